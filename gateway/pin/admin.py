"""PIN administration, shared by `smsguard pin` (gateway/pin/cli.py) and the dashboard.

`open_store` gives the PIN records the PIN step uses; `unlock`/`reset`/`record` change or read them
audited; `read_audit` lists what was done. Every action is audited the same way, wherever it came
from: one warning-level `pin admin` log line (action, user, operator, reason, changed, via) and an
entry in the Redis stream `smsguard:{pin}:audit` (trimmed to about 10,000 entries).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from gateway.logs import get_logger
from gateway.pin.store import PREFIX, PinStore
from gateway.redisclient import build_redis, pin_connection, shown
from gateway.settings import Settings

log = get_logger("gateway.pin.admin")

AUDIT_STREAM = f"{PREFIX}audit"
AUDIT_MAXLEN = 10_000

Action = Literal["status", "unlock", "reset"]
Via = Literal["cli", "dashboard"]


def store_url(settings: Settings) -> str:
    """Where the PIN records live (`pin.redis`/`pin.redis_url`, else the gateway's Redis), for
    messages: without credentials."""
    return shown(pin_connection(settings.pin) or settings.redis)


@contextlib.asynccontextmanager
async def open_store(
    settings: Settings, *, running: PinStore | None = None, shared: Redis | None = None
) -> AsyncIterator[PinStore]:
    """The PIN records the PIN step uses: the running step's store when there is one; else the
    `shared` client when `pin.redis_url` is not set; else a client of its own, closed after."""
    if running is not None:
        yield running
        return
    own_conn = pin_connection(settings.pin)
    if shared is not None and own_conn is None:
        yield PinStore(shared, max_failures=settings.pin.max_failures)
        return
    own: Redis = build_redis(own_conn or settings.redis, connect_timeout_s=3)
    try:
        yield PinStore(own, max_failures=settings.pin.max_failures)
    finally:
        await own.aclose()


async def record(
    store: PinStore,
    action: Action,
    user: str,
    *,
    operator: str,
    reason: str,
    changed: bool,
    via: Via,
) -> None:
    """Audit one admin action: the `pin admin` log line and an entry in the audit stream."""
    fields: dict[str, str] = {
        "action": action,
        "user": user,
        "operator": operator,
        "reason": reason,
        "via": via,
    }
    log.warning("pin admin", changed=changed, **fields)
    entry: dict[FieldT, EncodableT] = dict(fields.items())
    entry["changed"] = int(changed)
    await store.redis.xadd(AUDIT_STREAM, entry, maxlen=AUDIT_MAXLEN, approximate=True)


async def unlock(store: PinStore, user: str, *, operator: str, reason: str, via: Via) -> bool:
    """Clear failures, delay and lock (the user keeps the PIN), audited; True if it changed."""
    changed = await store.unlock(user)
    await record(store, "unlock", user, operator=operator, reason=reason, changed=changed, via=via)
    return changed


async def reset(store: PinStore, user: str, *, operator: str, reason: str, via: Via) -> bool:
    """Forget the PIN and its counters, audited; True if there was a record."""
    changed = await store.reset(user)
    await record(store, "reset", user, operator=operator, reason=reason, changed=changed, via=via)
    return changed


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited PIN admin action, as `read_audit` returns it."""

    time: float
    action: str
    user: str
    operator: str
    reason: str
    changed: bool
    via: str


async def read_audit(store: PinStore, limit: int) -> list[AuditEntry]:
    """The latest PIN admin actions (CLI and dashboard), newest first."""
    rows = await store.redis.xrevrange(AUDIT_STREAM, count=limit) or []
    out = []
    for sid, raw in rows:
        if sid is None or raw is None:
            continue
        fields = {_text(k): _text(v) for k, v in raw.items()}
        out.append(
            AuditEntry(
                time=int(_text(sid).split("-")[0]) / 1000,
                action=fields.get("action", ""),
                user=fields.get("user", ""),
                operator=fields.get("operator", ""),
                reason=fields.get("reason", ""),
                changed=fields.get("changed") == "1",
                # Entries written before the dashboard could unlock came from the CLI.
                via=fields.get("via", "cli"),
            )
        )
    return out


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
