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
requests issued in one event-loop tick and sends them as one pipeline; each caller awaits its own
result. Redis unreachable or slower than the per-call timeout: `RedisVelocity` answers from
bounded per-process counters (`LocalVelocity`) and reports the fallback to its caller.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
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


def counter_key(rule_id: str, parts: Sequence[str]) -> str:
    """The Redis key of one counter; values hashed so no phone number or IP is stored in clear."""
    return _counter_key(rule_id, "\x1f".join(parts))


@functools.lru_cache(maxsize=65_536)
def _counter_key(rule_id: str, joined: str) -> str:
    # Cached: attack traffic repeats prefixes, networks and countries.
    digest = hashlib.blake2b(joined.encode(), digest_size=10).hexdigest()
    return f"{KEY_PREFIX}{rule_id}:{digest}"


class VelocityStore(Protocol):
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

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
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
    """Collects the Redis commands of concurrent requests and sends them as one pipeline per tick.

    `run(commands)` queues a request's commands (usually one EVALSHA) and resolves to their replies
    (errors in place, as exception objects). The first call in a tick schedules a flush with
    `loop.call_soon`; everything queued until then goes in that one pipeline. A flush that takes
    longer than `timeout_s` fails every caller in it with TimeoutError.
    """

    def __init__(self, redis: Redis, timeout_s: float) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.stats = BatcherStats()
        self._queue: list[_Pending] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, commands: list[Command]) -> list[Any]:
        return await self.submit(commands)

    def submit(self, commands: list[Command]) -> asyncio.Future[list[Any]]:
        """Queue commands for the next flush; the future resolves to their replies."""
        loop = asyncio.get_running_loop()
        pending = _Pending(commands, loop.create_future())
        self._queue.append(pending)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return pending.future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._queue = self._queue, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Pending]) -> None:
        n = sum(len(p.commands) for p in batch)
        self.stats.pipelines += 1
        self.stats.commands += n
        self.stats.by_size[len(batch)] = self.stats.by_size.get(len(batch), 0) + 1
        try:
            async with asyncio.timeout(self.timeout_s):
                replies = await self._execute([c for p in batch for c in p.commands])
        except asyncio.CancelledError:
            for p in batch:  # shutting down: nobody may wait forever
                if not p.future.done():
                    p.future.set_exception(TimeoutError("redis call cancelled"))
            raise
        except (RedisError, OSError, TimeoutError) as exc:
            self.stats.errors += 1
            error = (
                exc
                if not isinstance(exc, TimeoutError)
                else TimeoutError(f"redis did not answer within {self.timeout_s * 1000:.0f} ms")
            )
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        start = 0
        for p in batch:
            if not p.future.done():
                p.future.set_result(replies[start : start + len(p.commands)])
            start += len(p.commands)

    async def _execute(self, commands: list[Command]) -> list[Any]:
        replies = await self._pipeline(commands)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            # Redis restarted or was flushed: load the script once and retry only those calls.
            await self.redis.script_load(VELOCITY_LUA)
            retried = await self._pipeline([commands[i] for i in missing])
            for i, reply in zip(missing, retried, strict=True):
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
    ) -> None:
        self.batcher = RedisBatcher(redis, timeout_s)
        self.clock = clock
        self.on_error = on_error
        self.retry_after_s = retry_after_s
        self.local = local or LocalVelocity()
        self.on_fallback = on_fallback
        self._down_until = 0.0
        self._last_log = 0.0

    async def hit(self, checks: Sequence[CounterCheck], token: str, now: float) -> HitOutcome:
        return await self._call(checks, token, now, write=True)

    async def peek(self, checks: Sequence[CounterCheck], now: float) -> HitOutcome:
        return await self._call(checks, "", now, write=False)

    async def release(self, keys: Sequence[str], token: str) -> None:
        self.local.release_now(keys, token)
        if not keys or self.clock.monotonic() < self._down_until:
            return
        try:
            await self.batcher.run([("ZREM", key, token) for key in keys])
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)

    def release_later(self, keys: Sequence[str], token: str) -> None:
        self.local.release_now(keys, token)
        if not keys or self.clock.monotonic() < self._down_until:
            return
        future = self.batcher.submit([("ZREM", key, token) for key in keys])
        future.add_done_callback(_ignore_result)

    async def _call(
        self, checks: Sequence[CounterCheck], token: str, now: float, *, write: bool
    ) -> HitOutcome:
        if not checks:
            return HitOutcome(())
        if self.clock.monotonic() >= self._down_until:
            keys, args = script_args(checks, token, now, write=write)
            try:
                (reply,) = await self.batcher.run(
                    [("EVALSHA", VELOCITY_SHA, len(keys), *keys, *args)]
                )
                if isinstance(reply, Exception):
                    raise reply
                return parse_reply(reply, checks)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(exc)
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


def _ignore_result(future: asyncio.Future[list[Any]]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: a failed background release is not worth a warning
