"""Overrides: the security team's manual block/allow list, applied at once on every instance.

An override blocks or allows one IP, one CIDR, a phone-number prefix or a destination country, with
a reason, an author and an optional expiry. They live in Redis:

    HASH   smsguard:overrides           id -> JSON of the override (the current list)
    STREAM smsguard:overrides:audit     every change: who, when, what, why (capped)
    PUBSUB smsguard:overrides:changed   "something changed": every instance re-reads the hash

Each instance keeps the whole list in memory; the message path calls the synchronous `match`, which
never touches Redis. A change made on one instance is published and every other instance reloads
within a round trip; a periodic full reload is the safety net for a missed message.

When several overrides match one request, a block wins over an allow (fail closed), so an allowed
prefix cannot shield traffic from an IP that was blocked during an attack.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from gateway.appkeys import CLOCK, OVERRIDES, READINESS, REDIS, SETTINGS
from gateway.clock import Clock
from gateway.errors import SmsGuardError
from gateway.health import CheckResult
from gateway.logs import get_logger, mask_phone
from gateway.signals import Signals

log = get_logger("gateway.overrides")

HASH_KEY = "smsguard:overrides"
AUDIT_KEY = "smsguard:overrides:audit"
CHANNEL = "smsguard:overrides:changed"
AUDIT_MAX = 10_000
# Guard rails: targets this broad need an explicit confirmation (a typo can block a continent).
WIDEST_V4 = 8  # no CIDR broader than /8 (IPv4) ...
WIDEST_V6 = 32  # ... or /32 (IPv6)
WIDEST_ALLOW_V4 = 16  # no allow broader than /16 (IPv4) ...
WIDEST_ALLOW_V6 = 48  # ... or /48 (IPv6)
SHORTEST_ALLOW_PREFIX = 3  # no allow of a number prefix shorter than 3 digits
# A prefix longer than this many digits is (nearly) a whole number: shown masked, matched in full.
PREFIX_SHOWN_MAX = 8
# Every audit entry has these fields (None where they do not apply), so pages can rely on them.
AUDIT_FIELDS = ("id", "kind", "value", "action", "target", "expires_at")

Kind = Literal["ip", "cidr", "prefix", "country"]
OverrideAction = Literal["block", "allow"]
KINDS: tuple[Kind, ...] = ("ip", "cidr", "prefix", "country")
ACTIONS: tuple[OverrideAction, ...] = ("block", "allow")


class OverrideError(SmsGuardError):
    """An override cannot be created as asked (bad value, unknown kind ...)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Override:
    """One manual decision for every request matching `kind`/`value`."""

    id: str
    kind: Kind
    value: str
    action: OverrideAction
    reason: str
    author: str
    created_at: float
    expires_at: float | None = None

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    @property
    def shown(self) -> str:
        """The value as pages, the API, the audit log and log lines show it."""
        return show_value(self.kind, self.value)

    def public(self) -> dict[str, Any]:
        """The override for the API: the value masked when it is (nearly) a whole number."""
        return {**asdict(self), "value": self.shown}

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(raw: bytes | str) -> Override:
        data: dict[str, Any] = json.loads(raw)
        return Override(**data)


def normalise(kind: str, value: str) -> tuple[Kind, str]:
    """Validate and canonicalise an override target; raise OverrideError with the reason."""
    value = value.strip()
    if kind == "ip":
        try:
            return "ip", str(ipaddress.ip_address(value))
        except ValueError:
            raise OverrideError("value", f"{value!r} is not an IP address") from None
    if kind == "cidr":
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise OverrideError("value", f"{value!r} is not a CIDR (203.0.113.0/24)") from None
        if net.num_addresses == 1:
            return "ip", str(net.network_address)
        return "cidr", str(net)
    if kind == "prefix":
        digits = value.replace(" ", "").replace("-", "").lstrip("+")
        if not digits.isdigit() or not 1 <= len(digits) <= 12:
            raise OverrideError(
                "value", f"{value!r} is not a number prefix (1-12 digits, e.g. 4477009)"
            )
        return "prefix", digits
    if kind == "country":
        code = value.upper()
        if len(code) != 2 or not code.isalpha() or not code.isascii():
            raise OverrideError("value", f"{value!r} is not an ISO country code (GB, US ...)")
        return "country", code
    raise OverrideError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")


def show_value(kind: str, value: str) -> str:
    """A prefix longer than PREFIX_SHOWN_MAX digits is a phone number: masked; others as is."""
    if kind == "prefix" and value.isdigit() and len(value) > PREFIX_SHOWN_MAX:
        return mask_phone("+" + value)
    return value


def check_breadth(kind: str, value: str, action: str) -> str | None:
    """Why an override of this (normalised) target is too broad to set without confirming."""
    if kind == "cidr":
        net = ipaddress.ip_network(value)
        widest = WIDEST_V4 if net.version == 4 else WIDEST_V6
        if net.prefixlen < widest:
            return f"{value} is broader than /{widest}"
        widest_allow = WIDEST_ALLOW_V4 if net.version == 4 else WIDEST_ALLOW_V6
        if action == "allow" and net.prefixlen < widest_allow:
            return f"allowing {value} is broader than /{widest_allow}"
    if kind == "prefix" and action == "allow" and len(value) < SHORTEST_ALLOW_PREFIX:
        return f"allowing prefix {value} covers too many numbers (< {SHORTEST_ALLOW_PREFIX} digits)"
    return None


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _target(raw: bytes | str) -> tuple[str, str] | None:
    """The (kind, value) of a stored override; None when it cannot be read."""
    try:
        o = Override.from_json(raw)
    except (ValueError, TypeError):
        return None
    return o.kind, o.value


class _Index:
    """The active overrides arranged for a constant-ish-time lookup of one request."""

    def __init__(self, items: list[Override]) -> None:
        self.ip: dict[str, list[Override]] = {}
        self.prefix: dict[str, list[Override]] = {}
        self.country: dict[str, list[Override]] = {}
        self.cidr: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Override]] = []
        for o in items:
            if o.kind == "cidr":
                self.cidr.append((ipaddress.ip_network(o.value), o))
            else:
                getattr(self, o.kind).setdefault(o.value, []).append(o)
        self.prefix_lengths = sorted({len(p) for p in self.prefix}, reverse=True)

    def candidates(self, signals: Signals) -> list[Override]:
        found: list[Override] = []
        if signals.ip:
            found += self.ip.get(signals.ip, [])
            if self.cidr:
                try:
                    addr = ipaddress.ip_address(signals.ip)
                except ValueError:
                    addr = None
                if addr is not None:
                    found += [o for net, o in self.cidr if addr in net]
        if self.prefix_lengths:
            digits = signals.e164.lstrip("+")
            for n in self.prefix_lengths:
                found += self.prefix.get(digits[:n], [])
        if signals.phone_country:
            found += self.country.get(signals.phone_country, [])
        return found


class Overrides:
    """The override list of this instance: a local cache kept in step with Redis."""

    def __init__(self, redis: Redis | None, clock: Clock, *, refresh_s: float = 30.0) -> None:
        self._bound = redis
        self._clock = clock
        self._refresh_s = refresh_s
        self._items: dict[str, Override] = {}
        self._index = _Index([])
        self.loaded = False
        self.reloads = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def bind(self, redis: Redis) -> None:
        """Attach the Redis client (the app opens it at startup, after this object exists)."""
        self._bound = redis

    @property
    def _redis(self) -> Redis:
        if self._bound is None:
            raise RuntimeError("Overrides used before a Redis client was bound")
        return self._bound

    # -- the request path (sync, local only) ------------------------------------------------------

    def match(self, signals: Signals) -> Override | None:
        """The override deciding this request, or None; a block wins over an allow."""
        if not self._items:
            return None
        now = self._clock.time()
        found = [o for o in self._index.candidates(signals) if o.active(now)]
        if not found:
            return None
        blocks = [o for o in found if o.action == "block"]
        return (blocks or found)[0]

    # -- reading ----------------------------------------------------------------------------------

    def active(self) -> list[Override]:
        """The active overrides, newest first (from the local cache)."""
        now = self._clock.time()
        items = [o for o in self._items.values() if o.active(now)]
        return sorted(items, key=lambda o: o.created_at, reverse=True)

    async def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest changes, newest first."""
        rows: Any = await self._redis.xrevrange(AUDIT_KEY, count=limit)
        out = []
        for sid, fields in rows:
            # Entries written before every field was filled in get the missing ones as None.
            entry: dict[str, Any] = dict.fromkeys(("time", "change", "author", "reason"))
            entry.update(dict.fromkeys(AUDIT_FIELDS))
            entry.update(json.loads(fields[b"e"]))
            if entry["kind"] == "prefix" and isinstance(entry["value"], str):
                entry["value"] = show_value("prefix", entry["value"])
            entry["sid"] = sid.decode()
            out.append(entry)
        return out

    # -- changes ----------------------------------------------------------------------------------

    async def add(
        self,
        kind: str,
        value: str,
        action: str,
        *,
        reason: str,
        author: str,
        expires_in_s: float | None = None,
        confirm_broad: bool = False,
    ) -> Override:
        """Create (or replace, for the same kind/value) an override; audited and published.

        A very broad target (see `check_breadth`) is refused unless `confirm_broad`."""
        if action not in ACTIONS:
            raise OverrideError("action", f"{action!r} is not block or allow")
        reason = reason.strip()
        if not reason:
            raise OverrideError("reason", "a reason is required (it is what the audit log shows)")
        if expires_in_s is not None and expires_in_s <= 0:
            raise OverrideError("expires", "an expiry must be in the future")
        kind_n, value_n = normalise(kind, value)
        too_broad = check_breadth(kind_n, value_n, action)
        if too_broad and not confirm_broad:
            raise OverrideError("value", f"{too_broad}; tick 'confirm a broad target' to set it")
        now = self._clock.time()
        override = Override(
            id=secrets.token_hex(8),
            kind=kind_n,
            value=value_n,
            action=action,
            reason=reason[:500],
            author=author,
            created_at=now,
            expires_at=now + expires_in_s if expires_in_s else None,
        )
        replaced = await self._replace(override, reason)
        for old in replaced:
            self._items.pop(old, None)
        self._items[override.id] = override
        self._reindex()
        log.info(
            "override added",
            kind=kind_n,
            value=override.shown,
            action=action,
            author=author,
            id=override.id,
        )
        return override

    async def _replace(self, override: Override, reason: str) -> list[str]:
        """Store `override` in place of any for the same target; the ids it replaced.

        Reads the list from Redis, not the cache (another instance may have added the same
        target), under WATCH: a concurrent change to the list retries, so two racing adds of one
        target leave one override, not two."""
        target = (override.kind, override.value)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(HASH_KEY)
                    current = await pipe.hgetall(HASH_KEY)
                    replaced = [_text(k) for k, raw in current.items() if _target(raw) == target]
                    # redis-py leaves Pipeline.multi unannotated.
                    cast(Callable[[], None], pipe.multi)()
                    if replaced:
                        pipe.hdel(HASH_KEY, *replaced)
                    pipe.hset(HASH_KEY, override.id, override.to_json())
                    self._audit(pipe, "add", override, override.author, reason)
                    pipe.publish(CHANNEL, override.id)
                    await pipe.execute()
                    return replaced
                except WatchError:
                    continue

    async def remove(self, override_id: str, *, author: str, reason: str = "") -> Override | None:
        """Delete an override; audited and published. None when it did not exist."""
        raw = await self._redis.hget(HASH_KEY, override_id)
        if raw is None:
            return None
        override = Override.from_json(raw)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(HASH_KEY, override_id)
        self._audit(pipe, "remove", override, author, reason or "removed")
        pipe.publish(CHANNEL, override_id)
        await pipe.execute()
        self._items.pop(override_id, None)
        self._reindex()
        log.info("override removed", id=override_id, author=author)
        return override

    def _audit(self, pipe: Any, change: str, o: Override, author: str, reason: str) -> None:
        entry = {
            "time": self._clock.time(),
            "change": change,
            "author": author,
            "reason": reason,
            "id": o.id,
            "kind": o.kind,
            "value": o.shown,
            "action": o.action,
            "target": None,
            "expires_at": o.expires_at,
        }
        pipe.xadd(AUDIT_KEY, {"e": json.dumps(entry)}, maxlen=AUDIT_MAX, approximate=True)

    async def note(self, change: str, *, author: str, reason: str, **fields: Any) -> None:
        """Audit an action that is not an override (a PIN unlock ...) in the same log.

        The entry has every field an override's entry has (None where it does not apply)."""
        entry: dict[str, Any] = {
            "time": self._clock.time(),
            "change": change,
            "author": author,
            "reason": reason,
        }
        entry.update(dict.fromkeys(AUDIT_FIELDS))
        entry.update(fields)
        await self._redis.xadd(
            AUDIT_KEY, {"e": json.dumps(entry)}, maxlen=AUDIT_MAX, approximate=True
        )

    # -- keeping the cache in step ----------------------------------------------------------------

    async def reload(self) -> None:
        """Re-read the whole list from Redis; expired entries are removed there (audited once)."""
        raw: Any = await self._redis.hgetall(HASH_KEY)
        now = self._clock.time()
        items: dict[str, Override] = {}
        expired: list[Override] = []
        for key, value in raw.items():
            try:
                o = Override.from_json(value)
            except (ValueError, TypeError):
                log.warning("unreadable override ignored", id=key.decode(errors="replace"))
                continue
            (items.__setitem__(o.id, o) if o.active(now) else expired.append(o))
        for o in expired:
            # HDEL returns 1 on exactly one instance, which writes the audit line.
            if await self._redis.hdel(HASH_KEY, o.id):
                pipe = self._redis.pipeline(transaction=False)
                self._audit(pipe, "expire", o, "system", "expired")
                await pipe.execute()
        self._items = items
        self._reindex()
        self.loaded = True
        self.reloads += 1

    def _reindex(self) -> None:
        self._index = _Index(list(self._items.values()))

    async def run(self) -> None:
        """Listen for changes and reload; reload periodically anyway; survive Redis outages."""
        backoff = 0.5
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                await self.reload()
                backoff = 0.5
                while not self._stopping:
                    # A message means "something changed"; none within refresh_s: reload anyway.
                    await pubsub.get_message(timeout=self._refresh_s)
                    await self.reload()
            except (RedisError, OSError) as exc:
                log.warning(
                    "overrides: Redis unavailable, keeping the cached list",
                    error=str(exc),
                    retry_in_s=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def start(self) -> None:
        """Run the listener in the background (until `stop`)."""
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="overrides-listener")

    async def stop(self) -> None:
        """Stop the listener. Cancels until it is done: a cancellation that coincides with a
        read timeout inside the Redis client can be swallowed, and must not hang shutdown."""
        self._stopping = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.warning("overrides listener ended with an error", error=str(task.exception()))


def setup(app: web.Application) -> None:
    """Install app[OVERRIDES] (idempotent); its listener runs while the app runs."""
    if OVERRIDES in app:
        return
    overrides = Overrides(None, app[CLOCK], refresh_s=app[SETTINGS].dashboard.overrides_refresh_s)
    app[OVERRIDES] = overrides

    async def listener(app: web.Application) -> AsyncIterator[None]:
        overrides.bind(app[REDIS])
        try:
            async with asyncio.timeout(2):
                await overrides.reload()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning(
                "overrides not loaded at startup; retrying in the background", error=str(exc)
            )

        async def overrides_check() -> CheckResult:
            if not overrides.loaded:
                return CheckResult(False, "not loaded from Redis yet")
            return CheckResult(True, f"{len(overrides.active())} active")

        app[READINESS].add("overrides", overrides_check, required=False)
        overrides.start()
        try:
            yield
        finally:
            await overrides.stop()

    app.cleanup_ctx.append(listener)
