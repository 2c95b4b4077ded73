"""The feedback store: sent codes open, completions close them, counters in time buckets (Redis).

Each write is one EVALSHA of `WRITE_LUA`, atomic: a completion claims the recipient's most recent
open code sent before it (ZREM: at most once), sets the "completed a login before" marker and counts
on the dimensions of that send; a redelivered Auth0 log_id (SET NX) changes nothing. The script
builds the counter keys of a claimed code from the digests stored in it: every key carries the
`{sgv}` hash tag, so on a Redis Cluster they all live in the slot the script runs in (the same
trade-off as the velocity counters). Key layout and metrics: `gateway.feedback.keys`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from gateway.feedback.keys import (
    METRICS,
    PREFIX,
    RESOLUTIONS,
    SUM_LUA,
    WINDOWS,
    FeedbackKeys,
    SendDims,
    bucket_range,
    dedupe_key,
    destination_dims,
)
from gateway.velocity import HASH_KEY_NAME, with_source

Command = tuple[Any, ...]

# KEYS: open-codes zset, verified marker, dedupe key (any key when ARGV[7] is '0').
# ARGV: op ('s' sent, 'c' completion, 'f' failure), event ms, now ms, dims ("dim=digest,..."),
# code id (sent), config "open_ttl_ms|max_open|verified_ttl_s|dedupe_ttl_s|skew_ms", dedupe flag.
# Returns {status, matched}: status 1 applied, 0 duplicate log_id, 2 a repeat of the recipient's
# last login (within the clock skew); matched 1 when an open code was claimed.
WRITE_LUA = (
    """
local PREFIX = '"""
    + PREFIX
    + """'
local RES = {{'m5', 300, 13}, {'h', 3600, 25}, {'d', 86400, 15}}
local op, t_ms, now_ms, dims, id = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local cfg = {}
for v in string.gmatch(ARGV[6], '[^|]+') do cfg[#cfg + 1] = tonumber(v) end
if ARGV[7] == '1' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', cfg[4]) then return {0, 0} end
end
if t_ms > now_ms then t_ms = now_ms end
local function bump(dimlist, metric)
  local t, now = math.floor(t_ms / 1000), math.floor(now_ms / 1000)
  for dim, dg in string.gmatch(dimlist, '(%w+)=(%w+)') do
    for _, r in ipairs(RES) do
      local step, kept = r[2], r[3]
      local cur, b = math.floor(now / step), math.floor(t / step)
      if b > cur - kept then
        local key = PREFIX .. r[1] .. ':' .. dim .. ':' .. dg
        -- Only a new bucket extends the key's life or can push old buckets out: the common
        -- case (a bucket already there) costs one command.
        if redis.call('HINCRBY', key, metric .. b, 1) == 1 then
          redis.call('EXPIRE', key, (kept + 1) * step)
          if redis.call('HLEN', key) > 4 * kept + 8 then
            -- buckets past the kept range (a key written rarely): drop them, keep it small
            for _, f in ipairs(redis.call('HKEYS', key)) do
              if tonumber(string.sub(f, 2)) <= cur - kept then redis.call('HDEL', key, f) end
            end
          end
        end
      end
    end
  end
end
if op == 's' then
  redis.call('ZADD', KEYS[1], t_ms, t_ms .. '|' .. id .. '|' .. dims)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -cfg[2] - 1)
  redis.call('PEXPIRE', KEYS[1], cfg[1])
  bump(dims, 's')
  return {1, 0}
end
local t_s = math.floor(t_ms / 1000)
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if op == 'c' and math.abs(t_s - prev) * 1000 <= cfg[5] then
  -- the same login logged twice (a first login is `ss` and `s`): one completion, not two
  return {2, 0}
end
local found = redis.call('ZREVRANGEBYSCORE', KEYS[1], t_ms + cfg[5], '-inf', 'LIMIT', 0, 1)
local member = found[1]
if member and t_ms - tonumber(string.match(member, '^(%d+)')) > cfg[1] then member = nil end
local counted = dims
if member then counted = string.match(member, '^%d+|[^|]*|(.*)$') end
if op == 'c' then
  if member then redis.call('ZREM', KEYS[1], member) end
  local left = t_s + cfg[3] - math.floor(now_ms / 1000)  -- relative: Redis's clock is not ours
  if t_s > prev and left > 0 then redis.call('SET', KEYS[2], t_s, 'EX', left) end
  if member then bump(counted, 'c') else bump(counted, 'x') end
else
  bump(counted, 'f')
end
if member then return {1, 1} end
return {1, 0}
"""
)
WRITE_SHA = hashlib.sha1(WRITE_LUA.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1

Kind = Literal["completion", "failure"]


@dataclass(frozen=True, slots=True)
class Completion:
    """A login that used a code (kind "completion") or a wrong code entered ("failure")."""

    e164: str
    at: float  # the event's own time (unix seconds)
    kind: Kind = "completion"
    log_id: str | None = None  # Auth0's id: a redelivery is recognised and changes nothing
    source: str = "log_stream"  # log_stream, action, pin, backfill


@dataclass(frozen=True, slots=True)
class Sent:
    """A code relayed to a provider: it stays open until a completion claims it."""

    dims: SendDims
    at: float
    code_id: str


@dataclass(frozen=True, slots=True)
class Applied:
    """What a completion did: "applied", "duplicate" (log_id seen) or "repeat" (the same login
    logged again, e.g. `ss` then `s`); matched = claimed an open code."""

    status: Literal["applied", "duplicate", "repeat"]
    matched: bool


@dataclass(frozen=True)
class StoreConfig:
    verified_ttl_s: int = 180 * 86_400
    open_code_ttl_s: int = 86_400
    max_open_codes: int = 16
    dedupe_ttl_s: int = 7 * 86_400
    clock_skew_s: int = 60

    def arg(self) -> str:
        return (
            f"{self.open_code_ttl_s * 1000}|{self.max_open_codes}|{self.verified_ttl_s}|"
            f"{self.dedupe_ttl_s}|{self.clock_skew_s * 1000}"
        )


class FeedbackStore:
    """Writes of sent codes and completions, each one atomic script call, batched per pipeline."""

    def __init__(self, redis: Redis, keys: FeedbackKeys, config: StoreConfig) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config
        self._config_arg = config.arg()

    async def resolve_secret(self, configured: bytes | None) -> None:
        """Use the velocity counters' secret: configured, else the one shared in Redis."""
        if configured is not None:
            self.keys.counter_keys.set_secret(configured)
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(HASH_KEY_NAME, os.urandom(32).hex(), nx=True)
        pipe.get(HASH_KEY_NAME)
        value = (await pipe.execute())[-1]
        self.keys.counter_keys.set_secret(value.encode() if isinstance(value, str) else value)

    def sent_command(self, sent: Sent, now: float) -> Command:
        e164 = sent.dims.e164
        dims = self.keys.dims_arg(sent.dims.values())
        code_id = sent.code_id.replace("|", "_")[:64]
        return self._command("s", e164, sent.at, now, dims, code_id, None)

    def completion_command(self, done: Completion, now: float) -> Command:
        dims = self.keys.dims_arg(destination_dims(done.e164))
        op = "c" if done.kind == "completion" else "f"
        return self._command(op, done.e164, done.at, now, dims, "", done.log_id)

    def _command(
        self, op: str, e164: str, at: float, now: float, dims: str, code_id: str, log_id: str | None
    ) -> Command:
        open_key = self.keys.open_codes(e164)
        return (
            "EVALSHA",
            WRITE_SHA,
            3,
            open_key,
            self.keys.verified(e164),
            dedupe_key(log_id) if log_id else open_key,
            op,
            int(at * 1000),
            int(now * 1000),
            dims,
            code_id,
            self._config_arg,
            "1" if log_id else "0",
        )

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Run write commands in one pipeline; those that meet a node without the script (new,
        flushed or just promoted) run again as EVAL of its source (also on a Cluster)."""
        if not commands:
            return []
        out = await self._pipeline(commands)
        missing = [i for i, reply in enumerate(out) if isinstance(reply, NoScriptError)]
        if missing:
            scripts = {WRITE_SHA: WRITE_LUA}
            retried = await self._pipeline([with_source(commands[i], scripts) for i in missing])
            for i, reply in zip(missing, retried, strict=True):
                out[i] = reply
        for reply in out:
            if isinstance(reply, Exception):
                raise reply
        return out

    async def _pipeline(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    async def record_sent(self, sent: Sequence[Sent], now: float) -> None:
        await self.execute([self.sent_command(s, now) for s in sent])

    async def apply(self, completions: Sequence[Completion], now: float) -> list[Applied]:
        replies = await self.execute([self.completion_command(c, now) for c in completions])
        statuses: dict[int, Literal["applied", "duplicate", "repeat"]] = {
            0: "duplicate",
            1: "applied",
            2: "repeat",
        }
        return [Applied(statuses[int(r[0])], int(r[1]) == 1) for r in replies]

    # -- reading (tests, tools; the decision reads the same keys inside its own script) ----------

    async def read(self, e164: str, dims: dict[str, str], now: float) -> FeedbackView:
        """Marker, unused codes and per-dimension window counts for one would-be send."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self.keys.verified(e164))
        for window in WINDOWS:
            seconds = _window_seconds(window)
            pipe.zcount(self.keys.open_codes(e164), f"({int((now - seconds) * 1000)}", "+inf")
        plan: list[tuple[str, str, str]] = []
        for dim, value in dims.items():
            for window in WINDOWS:
                res, first, last = bucket_range(window, now)
                fields = [f"{m}{b}" for m in METRICS for b in range(first, last + 1)]
                pipe.hmget(self.keys.counter(res, dim, value), fields)
                plan.append((dim, window, res))
        replies = await pipe.execute()
        marker = replies[0]
        unused = dict(zip(WINDOWS, (int(r) for r in replies[1 : 1 + len(WINDOWS)]), strict=True))
        counts: dict[tuple[str, str], Counts] = {}
        for (dim, window, _res), values in zip(plan, replies[1 + len(WINDOWS) :], strict=True):
            n = len(values) // len(METRICS)
            sums = [
                sum(int(v) for v in values[i * n : (i + 1) * n] if v is not None)
                for i in range(len(METRICS))
            ]
            counts[(dim, window)] = Counts(*sums)
        return FeedbackView(
            verified_at=int(marker) if marker is not None else None,
            unused=unused,
            counts=counts,
        )

    async def run_sum(self, key: str, metric: str, first: int, last: int) -> int:
        """`SUM_LUA`'s fb_sum, run alone: what the decision script computes for one window."""
        script = SUM_LUA + "return fb_sum(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))"
        (reply,) = await self._pipeline([("EVAL", script, 1, key, metric, first, last)])
        return int(reply)


def _window_seconds(window: str) -> int:
    res, count = WINDOWS[window]
    return RESOLUTIONS[res][0] * count


@dataclass(frozen=True, slots=True)
class Counts:
    """One dimension value over one window."""

    sent: int = 0
    completed: int = 0
    unmatched: int = 0
    failed: int = 0

    @property
    def unverified(self) -> int:
        return max(0, self.sent - self.completed)

    @property
    def conversion(self) -> float | None:
        """completed / sent; None when nothing was sent (the rate rests on `sent`)."""
        return self.completed / self.sent if self.sent else None


@dataclass(frozen=True)
class FeedbackView:
    verified_at: int | None
    unused: dict[str, int]  # window -> codes sent to the recipient in it and not used
    counts: dict[tuple[str, str], Counts]  # (dimension, window) -> counts

    def baseline(self) -> float | None:
        """The destination country's own 14-day conversion."""
        counts = self.counts.get(("cc", "14d"))
        return counts.conversion if counts else None
