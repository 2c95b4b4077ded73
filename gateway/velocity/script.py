"""The Lua script that checks and updates all counters of one decision atomically.

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
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gateway.spend.counters import BUDGET_LUA
from gateway.velocity.counters import CounterCheck, CounterResult, HitOutcome
from gateway.velocity.state import STATE_LUA, StateReads, parse_values

# KEYS: one sorted set per counter, in rule order.
# ARGV: now_ms, token, write ("1"/"0"), specs: one string "spec;spec;..." with, per key,
# "flags|longest_ms|ms_1|limit_1|ms_2|limit_2..." (flags: "f" final, "r" reservation, "-").
# Few, precomputed arguments: packing each argument is what costs the client (redis-py) most.
# Returns per key reached: {over (0 = none, else 1-based window), count_1, ..., count_n}.
VELOCITY_LUA = (
    BUDGET_LUA
    + """
local now = tonumber(ARGV[1])
local token = ARGV[2]
local write = ARGV[3] == '1'
"""
    + STATE_LUA
    + """
-- Trimming is for memory only (ZCOUNT ignores events past a window): do it on about one write in
-- 16, chosen by the random token, which saves a quarter of the calls. PEXPIRE drops idle keys.
local trim = write and string.byte(token, 1) == 48
local out = {}
local reserved = {}
local specs = {}
for spec in string.gmatch(ARGV[4], '[^;]+') do specs[#specs + 1] = spec end
local kp = koff
for k = 1, #specs do
  local body, g = string.match(specs[k], '^([^~]*)~?(.*)$')
  local f = {}
  for v in string.gmatch(body, '[^|]+') do f[#f + 1] = v end
  local flags = f[1]
  local final = string.find(flags, 'f', 1, true) ~= nil
  local keyless = string.find(flags, 'n', 1, true) ~= nil
  local key = nil
  if not keyless then
    kp = kp + 1
    key = KEYS[kp]
  end
  local row
  local undo = nil
  if g ~= '' and not guard(g) then
    row = {-1}  -- its condition on the state read above does not hold: not counted
  elseif keyless then
    row = {1}  -- a rule without counters whose condition on the state holds: it matched
  elseif string.find(flags, 'b', 1, true) then
    -- a money budget (gateway/spend/counters.py): checked and reserved in one step
    row, undo = budget_step(key, f, write)
  else
    local longest = tonumber(f[2])
    local n = (#f - 2) / 2
    if trim then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest)
    end
    row = {0}
    for w = 1, n do
      local ms = tonumber(f[1 + 2 * w])
      local limit = f[2 + 2 * w]
      if string.sub(limit, 1, 1) == 'L' then
        limit = V[tonumber(string.sub(limit, 2))] or 0  -- learned from the state read above
      else
        limit = tonumber(limit)
      end
      local c = redis.call('ZCOUNT', key, '(' .. (now - ms), '+inf')
      row[w + 1] = c
      if row[1] == 0 and c >= limit then row[1] = w end
    end
    if write and row[1] == 0 then
      redis.call('ZADD', key, now, token)
      redis.call('PEXPIRE', key, longest)
      if string.find(flags, 'r', 1, true) then
        undo = function() redis.call('ZREM', key, token) end
      end
    end
  end
  out[k] = row
  if write then
    if row[1] <= 0 then
      if undo then reserved[#reserved + 1] = undo end
    elseif final then
      -- refused here: reservations taken by earlier `count: sent` counters are void
      for _, give_back in ipairs(reserved) do give_back() end
      break
    end
  end
end
if koff > 0 or (ARGV[5] and ARGV[5] ~= '') then
  -- the state read goes back too (last row); rows not reached are nil so it stays last
  for k = 1, #specs do
    if out[k] == nil then out[k] = false end
  end
  local shown = {}
  for i = 1, #V do
    if V[i] == false then shown[i] = false else shown[i] = string.format('%.17g', V[i]) end
  end
  out[#specs + 1] = shown
end
return out
"""
)

VELOCITY_SHA = hashlib.sha1(VELOCITY_LUA.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1


def script_args(
    checks: Sequence[CounterCheck],
    token: str,
    now: float,
    *,
    write: bool,
    reads: StateReads | None = None,
) -> tuple[list[str], list[str | int]]:
    keys = [c.key for c in checks if c.key]
    specs = ";".join([c.spec for c in checks])
    args: list[str | int] = [int(now * 1000), token, "1" if write else "0", specs]
    if reads is not None:
        # state keys first: the reads program names them by position (static per rule set)
        return [*reads.keys, *keys], [*args, reads.ops, len(reads.keys)]
    return keys, args


def parse_reply(
    reply: Sequence[Sequence[object] | None], checks: Sequence[CounterCheck]
) -> HitOutcome:
    results: list[CounterResult | None] = [None] * len(checks)
    for i, row in enumerate(reply[: len(checks)]):
        if row is None:
            continue  # not reached: an earlier rule refused
        over = int(str(row[0]))
        if over < 0:
            results[i] = CounterResult((), None)  # its guard did not hold: not counted
            continue
        counts = tuple(int(str(c)) for c in row[1:])
        results[i] = CounterResult(counts, over - 1 if over else None)
    state = parse_values(reply[len(checks)] or ()) if len(reply) > len(checks) else ()
    return HitOutcome(tuple(results), state=state)
