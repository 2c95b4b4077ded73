"""What was spent: each sent message's cost per country and route, per day and per month.

Written after a message was sent (off the answer's path: a task, never awaited by /sms) into
Redis hashes the Spend page reads, `smsguard:spend:day:<YYYY-MM-DD>` and
`smsguard:spend:month:<YYYY-MM>` (UTC dates), fields `c:<country>`, `r:<route>` and `total` in
micro-units, `n` messages. The message's cost is also kept with its delivery status
(`smsguard:delivery:<id>` field `cost`), so a delivery receipt (Twilio's status callback,
Vonage's DLR) moves it to `delivered` or `failed` of the day it arrived: spend delivered vs
spend failed, for both providers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.clock import Clock
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.providers.status import DELIVERY_TTL_S, delivery_key
from gateway.spend.rates import Rates

log = get_logger("gateway.spend")

PREFIX = "smsguard:spend:"
DAY_TTL_S = 40 * 86400
MONTH_TTL_S = 400 * 86400
DELIVERED = frozenset({"delivered", "read"})
FAILED = frozenset({"failed", "undelivered", "expired", "rejected", "canceled"})


def day_key(day: str) -> str:
    return f"{PREFIX}day:{day}"


def month_key(month: str) -> str:
    return f"{PREFIX}month:{month}"


def dates(now: float) -> tuple[str, str]:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m")


# Moves a message's cost to delivered / failed once: KEYS[1] the delivery hash, KEYS[2] the day.
# ARGV[1] the outcome field. Returns the cost moved (0 when unknown or already counted).
_OUTCOME_LUA = """
local cost = redis.call('HGET', KEYS[1], 'cost')
if not cost or redis.call('HSETNX', KEYS[1], 'counted', ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], cost)
redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':n', 1)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return tonumber(cost)
"""


class SpendLedger:
    def __init__(self, redis: Redis, rates: Rates, clock: Clock, metrics: Metrics) -> None:
        self.redis = redis
        self.rates = rates
        self.clock = clock
        self.metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()

    def sent(self, message_id: str, body: str, country: str | None, route: str) -> None:
        """Count one sent message (in the background; a Redis error costs a log line)."""
        cost = self.rates.cost(body, country).micros
        self.metrics.spend.labels(country or "-", route, self.rates.currency).inc(cost)
        task = asyncio.get_running_loop().create_task(
            self._write(message_id, cost, country or "-", route)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, message_id: str, cost: int, country: str, route: str) -> None:
        day, month = dates(self.clock.time())
        pipe = self.redis.pipeline(transaction=False)
        for key, ttl in ((day_key(day), DAY_TTL_S), (month_key(month), MONTH_TTL_S)):
            pipe.hincrby(key, f"c:{country}", cost)
            pipe.hincrby(key, f"r:{route}", cost)
            pipe.hincrby(key, "total", cost)
            pipe.hincrby(key, "n", 1)
            pipe.expire(key, ttl)
        pipe.hset(delivery_key(message_id), "cost", cost)
        pipe.expire(delivery_key(message_id), DELIVERY_TTL_S)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("spend not recorded: Redis unavailable", error=type(exc).__name__)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def count_outcome(redis: Redis, message_id: str, status: str, now: float) -> int:
    """After a delivery status was stored: move the message's cost to delivered or failed."""
    outcome = "delivered" if status in DELIVERED else "failed" if status in FAILED else None
    if outcome is None:
        return 0
    day, _month = dates(now)
    moved = await redis.eval(
        _OUTCOME_LUA, 2, delivery_key(message_id), day_key(day), outcome, str(DAY_TTL_S)
    )
    return int(moved)
