"""The override list of one instance: a local cache of the list in Redis, changed (audited and
published) through it, and kept in step with the other instances by a listener."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, WatchError

from gateway.clock import Clock
from gateway.logs import get_logger
from gateway.models import Decision
from gateway.overrides.index import OverrideIndex
from gateway.overrides.targets import (
    ACTIONS,
    AUDIT_FIELDS,
    Override,
    OverrideError,
    check_breadth,
    normalise,
    show_value,
)
from gateway.signals import Signals

log = get_logger("gateway.overrides")

HASH_KEY = "smsguard:{overrides}"  # one slot with the audit stream (gateway/redislayout.py)
AUDIT_KEY = "smsguard:{overrides}:audit"
CHANNEL = "smsguard:overrides:changed"
AUDIT_MAX = 10_000


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _target(raw: bytes | str) -> tuple[str, str] | None:
    """The (kind, value) of a stored override; None when it cannot be read."""
    try:
        o = Override.from_json(raw)
    except (ValueError, TypeError):
        return None
    return o.kind, o.value


class Overrides:
    """The override list of this instance: a local cache kept in step with Redis."""

    def __init__(self, redis: Redis, clock: Clock, *, refresh_s: float = 30.0) -> None:
        self._redis = redis
        self._clock = clock
        self._refresh_s = refresh_s
        self._items: dict[str, Override] = {}
        self._index = OverrideIndex([])
        self.loaded = False
        self.reloads = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

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

    def decide(self, signals: Signals) -> Decision | None:
        """The decision of the override matching this request; None: the rules decide."""
        override = self.match(signals)
        return override.decision() if override is not None else None

    # -- reading ----------------------------------------------------------------------------------

    def active(self) -> list[Override]:
        """The active overrides, newest first (from the local cache)."""
        now = self._clock.time()
        items = [o for o in self._items.values() if o.active(now)]
        return sorted(items, key=lambda o: o.created_at, reverse=True)

    async def audit(self, limit: int = 200) -> list[dict[str, object]]:
        """The latest changes, newest first."""
        rows = await self._redis.xrevrange(AUDIT_KEY, count=limit)
        out: list[dict[str, object]] = []
        for sid, fields in rows or []:
            if sid is None or fields is None:
                continue
            # Entries written before every field was filled in get the missing ones as None.
            entry: dict[str, object] = dict.fromkeys(("time", "change", "author", "reason"))
            entry.update(dict.fromkeys(AUDIT_FIELDS))
            entry.update(json.loads(fields[b"e"]))
            if entry["kind"] == "prefix" and isinstance(entry["value"], str):
                entry["value"] = show_value("prefix", entry["value"])
            entry["sid"] = _text(sid)
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
                    await pipe.execute()
                    # After the MULTI: a Cluster takes no PUBLISH inside one.
                    await self._redis.publish(CHANNEL, override.id)
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
        await pipe.execute()
        await self._redis.publish(CHANNEL, override_id)
        self._items.pop(override_id, None)
        self._reindex()
        log.info("override removed", id=override_id, author=author)
        return override

    def _audit(self, pipe: Pipeline, change: str, o: Override, author: str, reason: str) -> None:
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

    async def note(self, change: str, *, author: str, reason: str, **fields: object) -> None:
        """Audit an action that is not an override (a PIN unlock ...) in the same log.

        The entry has every field an override's entry has (None where it does not apply)."""
        entry: dict[str, object] = {
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
        raw = await self._redis.hgetall(HASH_KEY)
        now = self._clock.time()
        items: dict[str, Override] = {}
        expired: list[Override] = []
        for key, value in raw.items():
            try:
                o = Override.from_json(value)
            except (ValueError, TypeError):
                log.warning("unreadable override ignored", id=_text(key))
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
        self._index = OverrideIndex(list(self._items.values()))

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
