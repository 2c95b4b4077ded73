"""The velocity store used in production: counters in Redis, one EVALSHA per decision.

Redis unreachable or slower than the per-call timeout: `RedisVelocity` answers from its fallback
(`fallback_outcome`, per `redis.on_error`) and reports the fallback to its caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.clock import Clock
from gateway.logs import get_logger
from gateway.spend.counters import is_budget_handle, release_command
from gateway.velocity.batcher import Command, RedisBatcher, Reply
from gateway.velocity.counters import CounterCheck, HitOutcome, OnError
from gateway.velocity.fallback import fallback_outcome
from gateway.velocity.keys import HASH_KEY_NAME, CounterKeys
from gateway.velocity.local import LocalVelocity
from gateway.velocity.script import VELOCITY_LUA, VELOCITY_SHA, parse_reply, script_args
from gateway.velocity.state import StateReads

log = get_logger("gateway.velocity")


class RedisVelocity:
    """Counters in Redis through a shared batcher; `LocalVelocity` when Redis fails.

    `on_error`: "local" answers from per-process counters, "allow" treats every counter as under its
    limit, "block" as over it. After a failure Redis is skipped for `retry_after_s` (measured on the
    injected clock) so an outage does not cost every request a timeout.

    Releases of `count: sent` reservations that cannot reach Redis (down, or failed) are kept in a
    bounded queue (`max_pending_releases`, oldest dropped) and sent with the first call that
    succeeds again.

    A call that timed out may still run in Redis later (a timeout cannot take back a command
    already written to the socket). Its attempts are then counted twice (locally and in Redis:
    errs towards refusing, bounded by the calls of the slow pipeline); its `count: sent`
    reservations carry the decision's token, and the engine releases them by that token when the
    decision was not a send (see RuleEngine). A release that reaches Redis before the late call
    (another connection) misses it: that reservation stays until its window ends (rare, bounded
    by one pipeline's calls, towards refusing).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Clock,
        timeout_s: float = 0.05,
        on_error: OnError = "local",
        retry_after_s: float = 0.25,
        local: LocalVelocity | None = None,
        on_fallback: Callable[[OnError], None] | None = None,
        keys: CounterKeys | None = None,
        max_pending_releases: int = 100_000,
    ) -> None:
        self.redis = redis
        self.keys = keys or CounterKeys(b"")
        self.batcher = RedisBatcher(
            redis, timeout_s, on_connect=self._on_connect, scripts={VELOCITY_SHA: VELOCITY_LUA}
        )
        self.clock = clock
        self.on_error = on_error
        self.retry_after_s = retry_after_s
        self.local = local or LocalVelocity(keys=self.keys)
        self.on_fallback = on_fallback
        self.pending_releases: deque[tuple[tuple[str, ...], str]] = deque(
            maxlen=max_pending_releases
        )
        self._down_until = 0.0
        self._last_log = 0.0
        self._shared_secret: bytes | None = None  # the secret this instance asserts in Redis
        self._key_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------ start/stop

    async def start(self, configured_secret: bytes | None = None) -> None:
        """Load the script and settle the counter-key secret (configured, else shared in Redis).

        Redis unreachable at start: the store answers from its fallback until a background retry
        (every `retry_after_s`, at least 1 s) reads the shared secret.
        """
        if configured_secret is not None:
            self.keys.set_secret(configured_secret)
        else:
            self.keys.set_secret(None)
        try:
            await self._fetch_secret(configured_secret)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            if configured_secret is None:
                self._key_task = asyncio.get_running_loop().create_task(self._retry_secret())

    async def stop(self) -> None:
        if self._key_task is not None:
            self._key_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._key_task

    async def _fetch_secret(self, configured: bytes | None) -> None:
        async with asyncio.timeout(max(1.0, self.batcher.timeout_s * 10)):
            # Not pipelined: on a Cluster SCRIPT LOAD goes to every primary on its own. Best
            # effort: a node without the script answers NOSCRIPT and gets it by EVAL (batcher),
            # so a Cluster shard that is down must not keep the counter secret unread.
            with contextlib.suppress(RedisError, OSError):
                await self.redis.script_load(VELOCITY_LUA)
            if configured is None:
                pipe = self.redis.pipeline(transaction=False)
                pipe.set(HASH_KEY_NAME, os.urandom(32).hex(), nx=True)
                pipe.get(HASH_KEY_NAME)
                replies = await pipe.execute()
        if configured is None:
            value = replies[-1]
            secret = value.encode() if isinstance(value, str) else bytes(value)
            self._shared_secret = secret
            self.keys.set_secret(secret)
            log.info("velocity_hash_key_shared", source="redis")

    async def _retry_secret(self) -> None:
        while not self.keys.ready:
            await asyncio.sleep(max(1.0, self.retry_after_s))
            try:
                await self._fetch_secret(None)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(exc)

    def _on_connect(self) -> list[Command]:
        head: list[Command] = []
        if self._shared_secret is not None:
            # Redis restarted or was flushed: put our (the shared) secret back before any new
            # instance invents another one.
            head.append(("SET", HASH_KEY_NAME, self._shared_secret, "NX"))
        return head

    # -------------------------------------------------------------------------------- counters

    async def hit(
        self,
        checks: Sequence[CounterCheck],
        token: str,
        now: float,
        *,
        reads: StateReads | None = None,
    ) -> HitOutcome:
        return await self._call(checks, token, now, write=True, reads=reads)

    async def peek(
        self, checks: Sequence[CounterCheck], now: float, *, reads: StateReads | None = None
    ) -> HitOutcome:
        return await self._call(checks, "", now, write=False, reads=reads)

    async def release(self, keys: Sequence[str], token: str) -> None:
        self.local.release_now(keys, token)
        if not keys:
            return
        if self._down():
            self.pending_releases.append((tuple(keys), token))
            return
        try:
            await self.batcher.run(release_commands(keys, token))
        except (RedisError, OSError, TimeoutError) as exc:
            self.pending_releases.append((tuple(keys), token))
            self._failed(exc)

    def release_later(self, keys: Sequence[str], token: str) -> None:
        self.local.release_now(keys, token)
        if keys:
            self._release_in_background(tuple(keys), token)

    def _release_in_background(self, keys: tuple[str, ...], token: str) -> None:
        if self._down():
            self.pending_releases.append((keys, token))
            return
        future = self.batcher.submit(release_commands(keys, token))

        def done(f: asyncio.Future[list[Reply]]) -> None:
            if f.cancelled() or f.exception() is not None:
                self.pending_releases.append((keys, token))  # retried when Redis is back

        future.add_done_callback(done)

    def _down(self) -> bool:
        return self.clock.monotonic() < self._down_until or not self.keys.ready

    async def _call(
        self,
        checks: Sequence[CounterCheck],
        token: str,
        now: float,
        *,
        write: bool,
        reads: StateReads | None = None,
    ) -> HitOutcome:
        if not checks and reads is None:
            return HitOutcome(())
        if not self._down():
            keys, args = script_args(checks, token, now, write=write, reads=reads)
            try:
                (reply,) = await self.batcher.run(
                    [("EVALSHA", VELOCITY_SHA, len(keys), *keys, *args)]
                )
                if isinstance(reply, Exception):
                    raise reply
                outcome = parse_reply(cast("list[list[object] | None]", reply), checks)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(exc)
            else:
                while self.pending_releases:  # Redis answers again: send what it missed
                    self._release_in_background(*self.pending_releases.popleft())
                return outcome
        if self.on_fallback is not None:
            self.on_fallback(self.on_error)
        # State cannot be read either: guards and learned limits see it as unknown.
        unknown = None if reads is None else StateReads(reads.keys, reads.ops)
        return fallback_outcome(
            self.on_error, self.local, checks, token, now, write=write, reads=unknown
        )

    def _failed(self, exc: BaseException) -> None:
        self._down_until = self.clock.monotonic() + self.retry_after_s
        now = self.clock.monotonic()
        if now - self._last_log > 5.0:  # at most one line per 5 s during an outage
            self._last_log = now
            log.warning(
                "velocity_redis_unavailable",
                error=str(exc) or type(exc).__name__,
                fallback=self.on_error,
            )


def release_commands(handles: Sequence[str], token: str) -> list[Command]:
    """ZREM of a `count: sent` token; a budget's handle gives its cost back."""
    return [release_command(h) if is_budget_handle(h) else ("ZREM", h, token) for h in handles]
