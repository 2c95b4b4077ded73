"""Velocity counters: sliding windows in Redis, one round trip per decision, local fallback.

Algorithm: a sliding-window *log* per counter (a Redis sorted set of request tokens scored by time).
We chose it over the cheaper sliding-window-counter approximation because:
  - it is exact (no 2x burst at a window edge, no estimate): the security team reads "5 in 10m"
    literally, and the concurrency requirement (1,000 concurrent requests, limit N -> exactly N) is
    met by doing check-and-add inside one Lua script, which Redis runs atomically;
  - a token is only added when every window of the counter is under its limit, so a set holds at
    most the largest limit of live members (plus the few expired ones a periodic trim has not yet
    removed): memory is O(limit) per counter, not O(traffic);
  - a reservation can be released precisely (ZREM of the token) when a `count: sent` rule learns
    that the message was not sent; an approximate counter cannot take back one hit of the past.
One sorted set serves all windows of a rule (ZCOUNT over each window, trim past the longest).

Redis Cluster: every key of one script call must hash to one slot. All counter keys carry the same
hash tag (`{sgv}`), so every decision is exactly one EVALSHA that checks and updates all its
counters atomically and in rule order. The trade-off: on a Cluster all velocity counters live on
one shard, and its one core bounds the decision rate: with the shipped rules (up to 9 counters a
request) a script costs about 60-120 us of Redis CPU (measured on the 2-core dev box), i.e. some
10,000 decisions a second per shard, above what a gateway fleet of a few workers serves. In exchange
a decision is one atomic call whose stop-at-the-first-refusal semantics cannot be split across
shards. (Spreading them would need one
script per slot, pipelined in one round trip, and would give up the ordered atomicity across rules.)

Batching: redis-py costs ~280 us of client CPU per call. `RedisBatcher` gathers the calls of all
requests issued in one event-loop tick into pipelines of at most 64 calls, at most 2 in flight,
each with its own budget from the moment it is sent (a slow pipeline fails only its own callers;
a burst of 1,000 decisions no longer becomes one pipeline that overruns the budget for all).
Redis unreachable or slower than the per-call timeout: `RedisVelocity` answers from bounded
per-process counters (`LocalVelocity`) and reports the fallback to its caller.

Key names: `CounterKeys` hashes the key values with a secret shared by every instance
(`rules.counter_hash_key`, else a random one stored in Redis with SET NX), so numbers and IPs
cannot be brute-forced back from key names.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import time
from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from gateway.clock import Clock
from gateway.logs import get_logger

log = get_logger("gateway.velocity")

KEY_PREFIX = "{sgv}:"  # the hash tag: every counter on one Cluster slot (see module docstring)


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` events within `seconds`."""

    seconds: int
    limit: int


class CounterCheck:
    """One counter a request touches: its key, windows, and whether a refusal stops evaluation.

    A plain slotted class: one is built per counter per request, a frozen dataclass costs 5x more.
    """

    __slots__ = ("final", "key", "longest", "reserve", "spec", "windows")

    def __init__(
        self,
        key: str,
        windows: tuple[Window, ...],
        final: bool,
        *,
        reserve: bool = False,
        longest: int = 0,
        spec: str = "",
    ) -> None:
        self.key = key  # full Redis key, already hashed and tagged
        self.windows = windows
        # True when exceeding it ends the evaluation (later counters are not touched).
        self.final = final
        # `count: sent`: the event is a reservation, taken back (in the same call) when a later
        # final counter refuses the request, or later by `release` when the message is not sent.
        self.reserve = reserve
        # The longest window in seconds.
        self.longest = longest or max(w.seconds for w in windows)
        # Its parameters as the script reads them (precomputed per rule by the engine).
        self.spec = spec or check_spec(windows, final=final, reserve=reserve)


def check_spec(windows: Sequence[Window], *, final: bool, reserve: bool) -> str:
    """`flags|longest_ms|ms_1|limit_1|...`: one string per counter, few arguments to pack."""
    flags = ("f" if final else "") + ("r" if reserve else "") or "-"
    parts = [flags, str(max(w.seconds for w in windows) * 1000)]
    for w in windows:
        parts += [str(w.seconds * 1000), str(w.limit)]
    return "|".join(parts)


@dataclass(frozen=True, slots=True)
class CounterResult:
    """What one counter held before this request: per-window counts, and which window is full."""

    counts: tuple[int, ...]
    over: int | None  # index of the first window at or above its limit; None when under all

    @property
    def exceeded(self) -> bool:
        return self.over is not None


@dataclass(frozen=True, slots=True)
class HitOutcome:
    """Results in the order of the checks; None for a counter not reached (an earlier refused)."""

    results: tuple[CounterResult | None, ...]
    fallback: str | None = None  # None when Redis answered; else "local", "allow" or "block"


HASH_KEY_NAME = KEY_PREFIX + "counter-hash-key"  # the shared secret when none is configured


class CounterKeys:
    """Counter key names: `{sgv}:<rule id>:<keyed hash of the key's values>`.

    The values (numbers, IPs) are hashed with a secret (keyed BLAKE2b), so key names in Redis do
    not give them away to a brute force over the small space of phone numbers or IPv4 addresses.
    Every gateway instance must use the same secret, or they would count in different keys: it comes
    from `rules.counter_hash_key`, or else from Redis (`SET NX` of a random key on first start, read
    by every instance; see `RedisVelocity.start`). `secret=None` means "not known yet": names are
    then made with a random per-process secret, good only for the local fallback counters.
    """

    def __init__(self, secret: bytes | None = b"") -> None:
        self.ready = False
        self._secret = b""
        self._name = functools.lru_cache(maxsize=65_536)(self._compute)
        self.set_secret(secret)

    def set_secret(self, secret: bytes | None) -> None:
        self.ready = secret is not None
        material = secret if secret is not None else os.urandom(32)
        # BLAKE2b takes a key of at most 64 bytes: longer secrets are hashed down first.
        self._secret = material if len(material) <= 64 else hashlib.blake2b(material).digest()
        self._name.cache_clear()

    def key(self, rule_id: str, parts: Sequence[str]) -> str:
        """The Redis key of one counter; cached (attack traffic repeats prefixes, networks)."""
        return self._name(rule_id, "\x1f".join(parts))

    def _compute(self, rule_id: str, joined: str) -> str:
        digest = hashlib.blake2b(joined.encode(), digest_size=10, key=self._secret).hexdigest()
        return f"{KEY_PREFIX}{rule_id}:{digest}"


_UNKEYED = CounterKeys(b"")


def counter_key(rule_id: str, parts: Sequence[str]) -> str:
    """A counter key with an empty secret (tests and tools that never share Redis counters)."""
    return _UNKEYED.key(rule_id, parts)


class VelocityStore(Protocol):
    keys: CounterKeys

    async def hit(self, checks: Sequence[CounterCheck], token: str, now: float) -> HitOutcome:
        """Check every counter in order and add `token` to those under all their limits."""
        ...

    async def peek(self, checks: Sequence[CounterCheck], now: float) -> HitOutcome:
        """Read the counters without writing them (`rules explain`)."""
        ...

    async def release(self, keys: Sequence[str], token: str) -> None:
        """Take a reservation back (a `count: sent` rule whose message was not sent)."""
        ...

    def release_later(self, keys: Sequence[str], token: str) -> None:
        """`release` without waiting for it (batched with the next Redis call)."""
        ...


# ---------------------------------------------------------------------------------------------
# In-process counters: `rules test`, and the fallback when Redis is down.


class _Log:
    __slots__ = ("times", "tokens")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.tokens: deque[str] = deque()


class LocalVelocity:
    """Sliding-window logs in a dict bounded by LRU eviction; same semantics as the Lua script."""

    def __init__(self, max_keys: int = 100_000, keys: CounterKeys | None = None) -> None:
        self.max_keys = max_keys
        self.keys = keys or CounterKeys(b"")
        self._logs: OrderedDict[str, _Log] = OrderedDict()

    def __len__(self) -> int:
        return len(self._logs)

    def hit_now(
        self, checks: Sequence[CounterCheck], token: str, now: float, *, write: bool = True
    ) -> HitOutcome:
        results: list[CounterResult | None] = [None] * len(checks)
        reserved: list[str] = []
        for i, check in enumerate(checks):
            entry = self._logs.get(check.key)
            longest = check.longest
            if entry is not None:
                self._logs.move_to_end(check.key)
                if write:
                    while entry.times and entry.times[0] <= now - longest:
                        entry.times.popleft()
                        entry.tokens.popleft()
            counts: list[int] = []
            over: int | None = None
            for w_index, window in enumerate(check.windows):
                count = 0 if entry is None else _count_since(entry.times, now - window.seconds)
                counts.append(count)
                if over is None and count >= window.limit:
                    over = w_index
            results[i] = CounterResult(tuple(counts), over)
            if not write:
                continue
            if over is None:
                if entry is None:
                    entry = self._logs[check.key] = _Log()
                    if len(self._logs) > self.max_keys:
                        self._logs.popitem(last=False)
                entry.times.append(now)
                entry.tokens.append(token)
                if check.reserve:
                    reserved.append(check.key)
            elif check.final:
                self.release_now(reserved, token)  # refused: reservations are void
                break
        return HitOutcome(tuple(results))

    def preload(self, key: str, count: int, now: float) -> None:
        """Record `count` events at `now` on one counter (`rules test` counter state)."""
        entry = self._logs.setdefault(key, _Log())
        for i in range(count):
            entry.times.append(now)
            entry.tokens.append(f"preload-{i}")

    def release_now(self, keys: Sequence[str], token: str) -> None:
        for key in keys:
            entry = self._logs.get(key)
            if entry is None:
                continue
            for i in range(len(entry.tokens) - 1, -1, -1):
                if entry.tokens[i] == token:
                    del entry.tokens[i]
                    del entry.times[i]
                    break

    async def hit(self, checks: Sequence[CounterCheck], token: str, now: float) -> HitOutcome:
        return self.hit_now(checks, token, now)

    async def peek(self, checks: Sequence[CounterCheck], now: float) -> HitOutcome:
        return self.hit_now(checks, "", now, write=False)

    async def release(self, keys: Sequence[str], token: str) -> None:
        self.release_now(keys, token)

    def release_later(self, keys: Sequence[str], token: str) -> None:
        self.release_now(keys, token)


def _count_since(times: deque[float], since: float) -> int:
    """Events strictly after `since` in a time-ordered deque."""
    # deques index in O(n) in the middle; windows are small (bounded by the limit) so this is cheap.
    return len(times) - bisect_right(times, since)


# ---------------------------------------------------------------------------------------------
# Redis.

# KEYS: one sorted set per counter, in rule order.
# ARGV: now_ms, token, write ("1"/"0"), specs: one string "spec;spec;..." with, per key,
# "flags|longest_ms|ms_1|limit_1|ms_2|limit_2..." (flags: "f" final, "r" reservation, "-").
# Few, precomputed arguments: packing each argument is what costs the client (redis-py) most.
# Returns per key reached: {over (0 = none, else 1-based window), count_1, ..., count_n}.
VELOCITY_LUA = """
local now = tonumber(ARGV[1])
local token = ARGV[2]
local write = ARGV[3] == '1'
-- Trimming is for memory only (ZCOUNT ignores events past a window): do it on about one write in
-- 16, chosen by the random token, which saves a quarter of the calls. PEXPIRE drops idle keys.
local trim = write and string.byte(token, 1) == 48
local out = {}
local reserved = {}
local specs = {}
for spec in string.gmatch(ARGV[4], '[^;]+') do specs[#specs + 1] = spec end
for k = 1, #KEYS do
  local key = KEYS[k]
  local f = {}
  for v in string.gmatch(specs[k], '[^|]+') do f[#f + 1] = v end
  local flags = f[1]
  local final = string.find(flags, 'f', 1, true) ~= nil
  local longest = tonumber(f[2])
  local n = (#f - 2) / 2
  if trim then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest)
  end
  local row = {0}
  for w = 1, n do
    local ms = tonumber(f[1 + 2 * w])
    local limit = tonumber(f[2 + 2 * w])
    local c = redis.call('ZCOUNT', key, '(' .. (now - ms), '+inf')
    row[w + 1] = c
    if row[1] == 0 and c >= limit then row[1] = w end
  end
  out[k] = row
  if write then
    if row[1] == 0 then
      redis.call('ZADD', key, now, token)
      redis.call('PEXPIRE', key, longest)
      if string.find(flags, 'r', 1, true) then reserved[#reserved + 1] = key end
    elseif final then
      -- refused here: reservations taken by earlier `count: sent` counters are void
      for _, rkey in ipairs(reserved) do redis.call('ZREM', rkey, token) end
      break
    end
  end
end
return out
"""

VELOCITY_SHA = hashlib.sha1(VELOCITY_LUA.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1


def script_args(
    checks: Sequence[CounterCheck], token: str, now: float, *, write: bool
) -> tuple[list[str], list[str | int]]:
    keys = [c.key for c in checks]
    specs = ";".join([c.spec for c in checks])
    return keys, [int(now * 1000), token, "1" if write else "0", specs]


def parse_reply(reply: Any, checks: Sequence[CounterCheck]) -> HitOutcome:
    results: list[CounterResult | None] = [None] * len(checks)
    for i, row in enumerate(reply):
        over = int(row[0])
        results[i] = CounterResult(tuple(int(c) for c in row[1:]), over - 1 if over else None)
    return HitOutcome(tuple(results))


Command = tuple[Any, ...]

MAX_CALLS_PER_PIPELINE = 64  # commands in one pipeline: a slow pipeline fails at most these
MAX_PIPELINES_IN_FLIGHT = 2  # pipelines awaiting Redis at once; the rest wait in the queue


@dataclass
class _Pending:
    commands: list[Command]
    future: asyncio.Future[list[Any]]


@dataclass
class BatcherStats:
    pipelines: int = 0
    commands: int = 0
    errors: int = 0
    by_size: dict[int, int] = field(default_factory=dict)


class RedisBatcher:
    """Collects the Redis commands of concurrent requests and sends them in a few pipelines.

    `run(commands)` queues a request's commands (usually one EVALSHA) and resolves to their replies
    (errors in place, as exception objects). The first call in a tick schedules a pump with
    `loop.call_soon`; the pump cuts the queue into pipelines of at most `max_calls` commands and
    keeps at most `max_in_flight` of them waiting on Redis (the others wait their turn in the queue,
    which costs no Redis time). Deadlines:
      - a pipeline must be answered within `timeout_s` of being sent, or its callers (and only
        them: at most `max_calls`) fail with TimeoutError; the client's own CPU spent queueing
        a burst is not charged to Redis;
      - a caller fails after `queue_timeout_s` in all (queued + sent), whatever the cause.
    `on_connect()` returns commands sent at the head of the first pipeline and of the first one
    after any failure (SCRIPT LOAD, the shared hash key): no extra round trip, and a Redis that
    restarted or was flushed gets them back at once.
    """

    def __init__(
        self,
        redis: Redis,
        timeout_s: float,
        *,
        max_calls: int = MAX_CALLS_PER_PIPELINE,
        max_in_flight: int = MAX_PIPELINES_IN_FLIGHT,
        queue_timeout_s: float | None = None,
        on_connect: Callable[[], list[Command]] | None = None,
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.max_calls = max_calls
        self.max_in_flight = max_in_flight
        self.queue_timeout_s = queue_timeout_s or max(1.0, 20 * timeout_s)
        self.on_connect = on_connect or (lambda: [("SCRIPT", "LOAD", VELOCITY_LUA)])
        self.stats = BatcherStats()
        self._queue: deque[_Pending] = deque()
        self._scheduled = False
        self._in_flight = 0
        self._fresh = True  # the next pipeline starts with the on_connect commands
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, commands: list[Command]) -> list[Any]:
        future = self.submit(commands)
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                return await future
        except TimeoutError:
            if future.cancelled():  # our own deadline, not a pipeline's
                raise TimeoutError(
                    f"redis call not answered within {self.queue_timeout_s * 1000:.0f} ms"
                ) from None
            raise

    def submit(self, commands: list[Command]) -> asyncio.Future[list[Any]]:
        """Queue commands for the next pipeline; the future resolves to their replies."""
        loop = asyncio.get_running_loop()
        pending = _Pending(commands, loop.create_future())
        self._queue.append(pending)
        self._schedule(loop)
        return pending.future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._queue and self._in_flight < self.max_in_flight:
            chunk: list[_Pending] = []
            n = 0
            while self._queue and n < self.max_calls:
                p = self._queue.popleft()
                if not p.future.done():  # a caller past its own deadline is not sent
                    chunk.append(p)
                    n += len(p.commands)
            if not chunk:
                break
            self._in_flight += 1
            task = loop.create_task(self._send(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if self._queue:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._schedule(asyncio.get_running_loop())

    async def _send(self, batch: list[_Pending]) -> None:
        commands = [c for p in batch for c in p.commands]
        head = self.on_connect() if self._fresh else []
        self.stats.pipelines += 1
        self.stats.commands += len(commands)
        self.stats.by_size[len(batch)] = self.stats.by_size.get(len(batch), 0) + 1
        try:
            async with asyncio.timeout(self.timeout_s):
                replies = await self._execute(head + commands)
        except asyncio.CancelledError:
            for p in batch:  # shutting down: nobody may wait forever
                if not p.future.done():
                    p.future.set_exception(TimeoutError("redis call cancelled"))
            raise
        except (RedisError, OSError, TimeoutError) as exc:
            self.stats.errors += 1
            self._fresh = True
            error = (
                exc
                if not isinstance(exc, TimeoutError)
                else TimeoutError(f"redis did not answer within {self.timeout_s * 1000:.0f} ms")
            )
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        if head:
            self._fresh = any(isinstance(r, Exception) for r in replies[: len(head)])
            replies = replies[len(head) :]
        start = 0
        for p in batch:
            if not p.future.done():
                p.future.set_result(replies[start : start + len(p.commands)])
            start += len(p.commands)

    async def _execute(self, commands: list[Command]) -> list[Any]:
        replies = await self._pipeline(commands)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            # Redis was flushed while connected: load again and retry only those calls.
            head = self.on_connect()
            retried = await self._pipeline(head + [commands[i] for i in missing])
            for i, reply in zip(missing, retried[len(head) :], strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, commands: list[Command]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))


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
        on_error: str = "local",
        retry_after_s: float = 0.25,
        local: LocalVelocity | None = None,
        on_fallback: Callable[[str], None] | None = None,
        keys: CounterKeys | None = None,
        max_pending_releases: int = 100_000,
    ) -> None:
        self.redis = redis
        self.keys = keys or CounterKeys(b"")
        self.batcher = RedisBatcher(redis, timeout_s, on_connect=self._on_connect)
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
            pipe = self.redis.pipeline(transaction=False)
            pipe.script_load(VELOCITY_LUA)
            if configured is None:
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
        head: list[Command] = [("SCRIPT", "LOAD", VELOCITY_LUA)]
        if self._shared_secret is not None:
            # Redis restarted or was flushed: put our (the shared) secret back before any new
            # instance invents another one.
            head.append(("SET", HASH_KEY_NAME, self._shared_secret, "NX"))
        return head

    # -------------------------------------------------------------------------------- counters

    async def hit(self, checks: Sequence[CounterCheck], token: str, now: float) -> HitOutcome:
        return await self._call(checks, token, now, write=True)

    async def peek(self, checks: Sequence[CounterCheck], now: float) -> HitOutcome:
        return await self._call(checks, "", now, write=False)

    async def release(self, keys: Sequence[str], token: str) -> None:
        self.local.release_now(keys, token)
        if not keys:
            return
        if self._down():
            self.pending_releases.append((tuple(keys), token))
            return
        try:
            await self.batcher.run([("ZREM", key, token) for key in keys])
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
        future = self.batcher.submit([("ZREM", key, token) for key in keys])

        def done(f: asyncio.Future[list[Any]]) -> None:
            if f.cancelled() or f.exception() is not None:
                self.pending_releases.append((keys, token))  # retried when Redis is back

        future.add_done_callback(done)

    def _down(self) -> bool:
        return self.clock.monotonic() < self._down_until or not self.keys.ready

    async def _call(
        self, checks: Sequence[CounterCheck], token: str, now: float, *, write: bool
    ) -> HitOutcome:
        if not checks:
            return HitOutcome(())
        if not self._down():
            keys, args = script_args(checks, token, now, write=write)
            try:
                (reply,) = await self.batcher.run(
                    [("EVALSHA", VELOCITY_SHA, len(keys), *keys, *args)]
                )
                if isinstance(reply, Exception):
                    raise reply
                outcome = parse_reply(reply, checks)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(exc)
            else:
                while self.pending_releases:  # Redis answers again: send what it missed
                    self._release_in_background(*self.pending_releases.popleft())
                return outcome
        return self._fallback(checks, token, now, write=write)

    def _failed(self, exc: BaseException) -> None:
        self._down_until = self.clock.monotonic() + self.retry_after_s
        now = time.monotonic()
        if now - self._last_log > 5.0:  # at most one line per 5 s during an outage
            self._last_log = now
            log.warning(
                "velocity_redis_unavailable",
                error=str(exc) or type(exc).__name__,
                fallback=self.on_error,
            )

    def _fallback(
        self, checks: Sequence[CounterCheck], token: str, now: float, *, write: bool
    ) -> HitOutcome:
        if self.on_fallback is not None:
            self.on_fallback(self.on_error)
        if self.on_error == "local":
            outcome = self.local.hit_now(checks, token, now, write=write)
            return HitOutcome(outcome.results, fallback="local")
        if self.on_error == "allow":
            under = CounterResult(tuple(0 for _ in checks), None)
            return HitOutcome(tuple(under for _ in checks), fallback="allow")
        results: list[CounterResult | None] = []
        for (
            check
        ) in checks:  # "block": every counter reads as full, evaluation stops at a final one
            results.append(CounterResult(tuple(w.limit for w in check.windows), 0))
            if check.final:
                break
        results += [None] * (len(checks) - len(results))
        return HitOutcome(tuple(results), fallback="block")
