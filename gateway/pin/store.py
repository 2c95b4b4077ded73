"""PIN records and attempt counters in Redis.

One hash per user, `smsguard:{pin}:user:<sub>`, with no expiry: `hash` (Argon2id, never leaves the
gateway), `enrolled_at`, `changed_at`, `failures` (consecutive), `next_at` (earliest next try),
`locked_at`. One counter per client IP, `smsguard:{pin}:ip:<ip>`, over a fixed window; IPv6
clients are counted per /64 (one subscriber usually holds a whole /64 and can rotate through it).

Attempts are counted *before* the PIN is checked, in one Lua script (locked? too early? IP over
its limit? else count the failure in advance and set the next delay): parallel guesses cannot
slip past the limit while Argon2 runs. A success then clears the count; nothing else does (a new
SMS login certainly does not).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

PREFIX = "smsguard:{pin}:"  # one slot: scripts read a user's and an IP's keys together

AttemptStatus = Literal["go", "locked", "wait", "ip_limited"]

_BEGIN = """
local now = tonumber(ARGV[1])
local max_failures = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local ip_max = tonumber(ARGV[5])
local ip_window = tonumber(ARGV[6])
local locked = redis.call('HGET', KEYS[1], 'locked_at')
if locked then return {'locked', '0', '0', ''} end
local next_at = tonumber(redis.call('HGET', KEYS[1], 'next_at') or '0')
if now < next_at then return {'wait', tostring(next_at - now), '0', ''} end
local ip_count = tonumber(redis.call('GET', KEYS[2]) or '0')
if ip_count >= ip_max then return {'ip_limited', tostring(redis.call('TTL', KEYS[2])), '0', ''} end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ip_window) end
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local delay = math.min(base * math.pow(2, n - 1), cap)
redis.call('HSET', KEYS[1], 'next_at', tostring(now + delay), 'last_attempt_at', tostring(now))
if n >= max_failures then redis.call('HSET', KEYS[1], 'locked_at', tostring(now)) end
return {'go', '0', tostring(n), redis.call('HGET', KEYS[1], 'hash') or ''}
"""

_SUCCEED = """
redis.call('HDEL', KEYS[1], 'failures', 'next_at', 'locked_at')
local c = tonumber(redis.call('GET', KEYS[2]) or '0')
if c > 0 then redis.call('DECR', KEYS[2]) end
return 1
"""

_ENROLL = """
if redis.call('HEXISTS', KEYS[1], 'hash') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'enrolled_at', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Attempt:
    """The outcome of asking to try a PIN: go (with the stored hash, maybe None) or why not."""

    status: AttemptStatus
    failures: int = 0
    stored: str | None = None
    wait_s: float = 0.0


@dataclass(frozen=True)
class PinStatus:
    enrolled: bool
    failures: int
    locked: bool
    locked_at: float | None
    next_at: float | None
    enrolled_at: float | None
    changed_at: float | None


class PinStore:
    def __init__(
        self,
        redis: Redis,
        *,
        max_failures: int = 5,
        delay_base_s: float = 1.0,
        delay_max_s: float = 300.0,
        ip_max_failures: int = 30,
        ip_window_s: int = 3600,
    ) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.delay_base_s = delay_base_s
        self.delay_max_s = delay_max_s
        self.ip_max_failures = ip_max_failures
        self.ip_window_s = ip_window_s

    @staticmethod
    def user_key(sub: str) -> str:
        return f"{PREFIX}user:{sub}"

    @staticmethod
    def ip_key(ip: str) -> str:
        return f"{PREFIX}ip:{ip_bucket(ip)}"

    async def begin_attempt(self, sub: str, ip: str, now: float) -> Attempt:
        """Check locks and delays; if allowed, count this attempt as a failure in advance."""
        raw: list[object] = await self.redis.eval(
            _BEGIN,
            2,
            self.user_key(sub),
            self.ip_key(ip),
            repr(now),
            self.max_failures,
            repr(self.delay_base_s),
            repr(self.delay_max_s),
            self.ip_max_failures,
            self.ip_window_s,
        )
        status, wait, failures, stored = (_text(x) for x in raw)
        return Attempt(
            status=status,  # type: ignore[arg-type]
            failures=int(failures),
            stored=stored or None,
            wait_s=max(float(wait), 0.0),
        )

    async def succeed(self, sub: str, ip: str) -> None:
        """The PIN was right: clear the user's failures, delay and lock; uncount the IP try."""
        await self.redis.eval(_SUCCEED, 2, self.user_key(sub), self.ip_key(ip))

    async def enroll(self, sub: str, hashed: str, now: float) -> bool:
        """Store the first PIN; False when the user already has one (two tabs racing)."""
        created = await self.redis.eval(_ENROLL, 1, self.user_key(sub), hashed, repr(now))
        return bool(created)

    async def replace_hash(self, sub: str, hashed: str, now: float) -> None:
        """Store a new hash for an enrolled user (PIN change, or re-hash with new parameters)."""
        await self.redis.hset(self.user_key(sub), mapping={"hash": hashed, "changed_at": repr(now)})

    async def has_pin(self, sub: str) -> bool:
        return bool(await self.redis.hexists(self.user_key(sub), "hash"))

    async def status(self, sub: str) -> PinStatus:
        raw: dict[bytes | str, bytes | str] = await self.redis.hgetall(self.user_key(sub))
        fields = {_text(k): _text(v) for k, v in raw.items()}

        def number(name: str) -> float | None:
            return float(fields[name]) if fields.get(name) else None

        return PinStatus(
            enrolled="hash" in fields,
            failures=int(fields.get("failures", "0")),
            locked="locked_at" in fields,
            locked_at=number("locked_at"),
            next_at=number("next_at"),
            enrolled_at=number("enrolled_at"),
            changed_at=number("changed_at"),
        )

    async def unlock(self, sub: str) -> bool:
        """Clear failures, delay and lock; keep the PIN. True when there was something to clear."""
        removed = await self.redis.hdel(self.user_key(sub), "failures", "next_at", "locked_at")
        return bool(removed)

    async def reset(self, sub: str) -> bool:
        """Forget the PIN and its counters; the user enrolls a new PIN at the next login."""
        return bool(await self.redis.delete(self.user_key(sub)))


def ip_bucket(ip: str) -> str:
    """What the per-IP failure count is keyed on: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
