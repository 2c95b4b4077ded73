"""State the decision script reads before its counters, and guards over it (one round trip).

Some rules depend on state in Redis that another stage writes (completed logins, codes sent and
not used: `gateway.feedback`). Their values must be read in the same EVALSHA as the counters, and a
rule whose condition depends on them must be decided inside the script too (a refusal stops the
counting of later rules). Two small languages, both generic (the policy compiles into them, the
velocity package knows nothing of feedback):

Reads (`StateReads.ops`, `;`-separated, each pushes one value V[i], 1-based; unknown = false):
    e,k                 1 when KEYS[k] exists, else 0
    z,k,ms              members of the sorted set KEYS[k] scored in the last `ms` milliseconds
    s,k,step,n,f1[,f2]  sum over the last `n` buckets (of `step` seconds, the current one included)
                        of hash fields `<f><bucket>` of KEYS[k]
    m,k,step,n,f1[,f2]  the same buckets: the largest one's total
    q,i,j               V[i] / V[j] (unknown when either is unknown or V[j] is 0)
    d,i,j               max(0, V[i] - V[j])
    l,i,factor,floor    floor + ceil(factor * V[i]) (V[i] unknown counts as 0)
Read keys come first in KEYS; the counters' keys follow them.

Guards (after `~` in a counter's spec): a postfix program over V, true when the counter applies:
    vI push V[I]   #X push the number X   ? known   ! not   & and   | or
    < <= > >= = != compare the two values on top (false when either is unknown)
A counter's limit written `L<i>` is V[i] (a limit learned from state, `l` above).

`run_ops` and `guard_holds` are the same programs in Python: the local counters (`rules test`, the
fallback when Redis is down) evaluate them over values given by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

StateValue = float | None


@dataclass(frozen=True, slots=True)
class StateReads:
    """What one decision reads before its counters: the keys, the program, values given locally."""

    keys: tuple[str, ...]
    ops: str
    # Local stores read nothing: values known to the caller (a rule test's signals), by V index
    # (0-based); None where unknown. Ignored by Redis.
    given: tuple[StateValue, ...] = ()


STATE_LUA = """
local V = {}
local koff = 0
if ARGV[5] and ARGV[5] ~= '' then
  koff = tonumber(ARGV[6])
  for op in string.gmatch(ARGV[5], '[^;]+') do
    local a = {}
    for v in string.gmatch(op, '[^,]+') do a[#a + 1] = v end
    local o, x = a[1], false
    if o == 'e' then
      x = redis.call('EXISTS', KEYS[tonumber(a[2])])
    elseif o == 'z' then
      x = redis.call('ZCOUNT', KEYS[tonumber(a[2])], '(' .. (now - tonumber(a[3])), '+inf')
    elseif o == 's' or o == 'm' then
      local step, n, per = tonumber(a[3]), tonumber(a[4]), #a - 4
      local cur = math.floor(math.floor(now / 1000) / step)
      local names = {}
      for b = cur - n + 1, cur do
        for j = 5, #a do names[#names + 1] = a[j] .. b end
      end
      local vals = redis.call('HMGET', KEYS[tonumber(a[2])], unpack(names))
      x = 0
      for i = 1, n do
        local t = 0
        for j = 1, per do t = t + (tonumber(vals[(i - 1) * per + j]) or 0) end
        if o == 's' then x = x + t elseif t > x then x = t end
      end
    elseif o == 'q' then
      local p, d = V[tonumber(a[2])], V[tonumber(a[3])]
      if p and d and d > 0 then x = p / d end
    elseif o == 'd' then
      local p, d = V[tonumber(a[2])], V[tonumber(a[3])]
      if p and d then x = math.max(0, p - d) end
    elseif o == 'l' then
      local b = V[tonumber(a[2])] or 0
      x = tonumber(a[4]) + math.ceil(tonumber(a[3]) * b)
    end
    V[#V + 1] = x
  end
end
local function guard(g)
  local st = {}
  for t in string.gmatch(g, '%S+') do
    local c = string.sub(t, 1, 1)
    if c == 'v' then st[#st + 1] = V[tonumber(string.sub(t, 2))]
    elseif c == '#' then st[#st + 1] = tonumber(string.sub(t, 2))
    elseif t == '!' then st[#st] = not st[#st]
    elseif t == '?' then st[#st] = st[#st] ~= false
    else
      local b = table.remove(st)
      local a = table.remove(st)
      local r
      if t == '&' then r = a and b
      elseif t == '|' then r = a or b
      elseif a == false or b == false then r = false
      elseif t == '<' then r = a < b
      elseif t == '<=' then r = a <= b
      elseif t == '>' then r = a > b
      elseif t == '>=' then r = a >= b
      elseif t == '=' then r = a == b
      else r = a ~= b end
      st[#st + 1] = r
    end
  end
  return st[1] == true
end
"""


def run_ops(ops: str, given: Sequence[StateValue]) -> list[StateValue]:
    """The reads program with nothing to read: read ops take the given value (None if none);
    derived ops are computed unless a value is given for them."""
    values: list[StateValue] = []
    for i, op in enumerate(o for o in ops.split(";") if o):
        a = op.split(",")
        known = given[i] if i < len(given) else None
        x: StateValue = known
        if known is None and a[0] in ("q", "d", "l"):
            p = values[int(a[1]) - 1]
            if a[0] == "l":
                x = float(a[3]) + math.ceil(float(a[2]) * (p or 0.0))
            else:
                d = values[int(a[2]) - 1]
                if a[0] == "q" and p is not None and d:
                    x = p / d
                elif a[0] == "d" and p is not None and d is not None:
                    x = max(0.0, p - d)
        values.append(x)
    return values


def guard_holds(guard: str, values: Sequence[StateValue]) -> bool:
    """The Lua `guard` in Python (unknown values compare false, as there)."""
    stack: list[object] = []
    for t in guard.split():
        if t[0] == "v":
            stack.append(values[int(t[1:]) - 1])
        elif t[0] == "#":
            stack.append(float(t[1:]))
        elif t == "!":
            stack[-1] = not stack[-1]
        elif t == "?":
            stack[-1] = stack[-1] is not None
        else:
            b, a = stack.pop(), stack.pop()
            stack.append(_binary(t, a, b))
    return stack[0] is True


def _binary(op: str, a: object, b: object) -> bool:
    if op == "&":
        return bool(a) and bool(b)
    if op == "|":
        return bool(a) or bool(b)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return False
    return {
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
        "=": a == b,
        "!=": a != b,
    }[op]


def parse_values(row: Sequence[object]) -> tuple[StateValue, ...]:
    """The script's last row: values as text, nil (None) when unknown."""
    out: list[StateValue] = []
    for v in row:
        if v is None:
            out.append(None)
        else:
            text = v.decode() if isinstance(v, bytes) else str(v)
            out.append(float(text))
    return tuple(out)
