"""Budget counters: money reserved against a ceiling, in the velocity script's one round trip.

A budget counter is a Redis hash under the velocity hash tag: field `=` holds the spend of the
period in micro-units; a rolling window also keeps one field per minute (`m<minute>`) and a sorted
set `<key>~` of those minutes, so the minutes that leave the window are subtracted (each once).
Calendar periods need none of that: the period is in the key's name.

The check and the reservation are one step of the velocity script (gateway/velocity/script.py
calls `budget_step` below for a counter whose flags hold "b"): a message is admitted only when
spend + its cost <= max, and its cost is added at once, so concurrent decisions on every replica
never overspend, whatever their interleaving. A reservation is given back with the cost it added
(`release_command`): when a later final rule refused in the same script, or when every provider
failed. A budget whose Redis call timed out is not given back (the script may yet run): that cost
stays counted, towards refusing.

The release handle of a budget reservation is `<key>|<cost>|<minute>`: what the release needs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from gateway.spend.periods import BUCKET_S, Window

TOTAL = "="
HANDLE_SEP = "|"

# A Lua function the velocity script defines before its loop. `f` is the counter's spec split on
# '|': {flags, ttl_ms, rolling_ms, max, cost, minute}. Returns the result row {over, spent} and,
# when it reserved, a function that takes the reservation back.
BUDGET_LUA = """
local function budget_step(key, f, write)
  local ttl = tonumber(f[2])
  local rolling = tonumber(f[3])
  local limit = tonumber(f[4])
  local cost = tonumber(f[5])
  local minute = tonumber(f[6])
  local zkey = key .. '~'
  if rolling > 0 then
    -- minutes that left the window: subtract them from the total, once
    local oldest = minute - rolling / 60000
    local gone = redis.call('ZRANGEBYSCORE', zkey, '-inf', oldest, 'LIMIT', 0, 500)
    if #gone > 0 then
      local fields = {}
      for i, m in ipairs(gone) do fields[i] = 'm' .. m end
      local sums = redis.call('HMGET', key, unpack(fields))
      local sum = 0
      for _, v in ipairs(sums) do if v then sum = sum + tonumber(v) end end
      redis.call('HDEL', key, unpack(fields))
      redis.call('ZREM', zkey, unpack(gone))
      if sum ~= 0 then redis.call('HINCRBY', key, '=', -sum) end
    end
  end
  local spent = tonumber(redis.call('HGET', key, '=') or '0')
  if spent + cost > limit then return {1, spent}, nil end
  if not write then return {0, spent}, nil end
  redis.call('HINCRBY', key, '=', cost)
  if rolling > 0 then
    redis.call('HINCRBY', key, 'm' .. minute, cost)
    redis.call('ZADD', zkey, minute, minute)
    redis.call('PEXPIRE', zkey, ttl)
  end
  redis.call('PEXPIRE', key, ttl)
  local function undo()
    redis.call('HINCRBY', key, '=', -cost)
    if rolling > 0 and redis.call('HEXISTS', key, 'm' .. minute) == 1 then
      redis.call('HINCRBY', key, 'm' .. minute, -cost)
    end
  end
  return {0, spent}, undo
end
"""

# Gives one reservation back (every provider failed). KEYS[1] the hash; ARGV: cost, minute
# (0 for a calendar period). A minute already out of the window was subtracted with it: skip it.
BUDGET_RELEASE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cost = tonumber(ARGV[1])
local minute = ARGV[2]
if minute ~= '0' then
  if redis.call('HEXISTS', KEYS[1], 'm' .. minute) == 0 then return 0 end
  redis.call('HINCRBY', KEYS[1], 'm' .. minute, -cost)
end
redis.call('HINCRBY', KEYS[1], '=', -cost)
return 1
"""


def budget_spec(window: Window, max_micros: int, cost: int, *, final: bool) -> str:
    """The counter's parameters as the script reads them (flags: b budget, r reservation)."""
    flags = "b" + ("f" if final else "") + "r"
    return f"{flags}|{window.ttl_ms}|{window.rolling_ms}|{max_micros}|{cost}|{window.bucket}"


def release_handle(key: str, cost: int, window: Window) -> str:
    return HANDLE_SEP.join((key, str(cost), str(window.bucket if window.rolling_ms else 0)))


def is_budget_handle(handle: str) -> bool:
    return HANDLE_SEP in handle


def release_command(handle: str) -> tuple[str | int, ...]:
    """The Redis command that gives a budget reservation back."""
    key, cost, minute = handle.split(HANDLE_SEP)
    return ("EVAL", BUDGET_RELEASE_LUA, 1, key, cost, minute)


@dataclass
class _Spend:
    total: int = 0
    minutes: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BudgetParams:
    """A budget counter's spec, parsed (the in-process counters read it as the script does)."""

    final: bool
    ttl_ms: int
    rolling_ms: int
    limit: int
    cost: int
    minute: int

    @classmethod
    def parse(cls, spec: str) -> BudgetParams:
        flags, ttl, rolling, limit, cost, minute = spec.split("|")
        return cls("f" in flags, int(ttl), int(rolling), int(limit), int(cost), int(minute))


class LocalBudgets:
    """Budget counters in this process (`rules test`, Redis unreachable): the script's semantics."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._spend: OrderedDict[str, _Spend] = OrderedDict()

    def step(self, key: str, spec: str, *, write: bool) -> tuple[int, int, str | None]:
        """(over 0/1, spent before, the release handle when it reserved)."""
        p = BudgetParams.parse(spec)
        entry = self._spend.get(key)
        if entry is not None and p.rolling_ms:
            oldest = p.minute - p.rolling_ms // (BUCKET_S * 1000)
            for m in [m for m in entry.minutes if m <= oldest]:
                entry.total -= entry.minutes.pop(m)
        spent = entry.total if entry is not None else 0
        if spent + p.cost > p.limit:
            return 1, spent, None
        if not write:
            return 0, spent, None
        if entry is None:
            entry = self._spend[key] = _Spend()
            if len(self._spend) > self.max_keys:
                self._spend.popitem(last=False)
        entry.total += p.cost
        if p.rolling_ms:
            entry.minutes[p.minute] = entry.minutes.get(p.minute, 0) + p.cost
        minute = p.minute if p.rolling_ms else 0
        return 0, spent, HANDLE_SEP.join((key, str(p.cost), str(minute)))

    def release(self, handle: str) -> None:
        key, cost_text, minute_text = handle.split(HANDLE_SEP)
        entry = self._spend.get(key)
        cost, minute = int(cost_text), int(minute_text)
        if entry is None:
            return
        if minute:
            if minute not in entry.minutes:
                return
            entry.minutes[minute] -= cost
        entry.total -= cost
