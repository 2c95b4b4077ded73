"""What was spent: each sent message's cost per country and route, per day and per month.

Written after a message was sent (off the answer's path: a task, never awaited by /sms) into
Redis hashes the Spend page reads, `smsguard:spend:day:<YYYY-MM-DD>` and
`smsguard:spend:month:<YYYY-MM>` (UTC dates), fields `c:<country>`, `r:<route>` and `total` in
micro-units, `n` messages. The message's cost is also kept with its delivery status
(`smsguard:spend:cost:<id>`, 7 days), so a delivery receipt (Twilio's status callback,
Vonage's DLR) moves it to `delivered` or `failed` of the day it arrived: spend delivered vs
spend failed, for both providers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.clock import Clock
from gateway.logs import get_logger
from gateway.metrics import Metrics

if TYPE_CHECKING:  # the providers import this module, and the prices import the settings
    from gateway.spend.rates import Rates

log = get_logger("gateway.spend")

PREFIX = "smsguard:spend:"
DAY_TTL_S = 40 * 86400
COST_TTL_S = 7 * 86400  # as long as a delivery status is kept (gateway/providers/status.py)
MONTH_TTL_S = 400 * 86400
DELIVERED = frozenset({"delivered", "read"})
FAILED = frozenset({"failed", "undelivered", "expired", "rejected", "canceled"})


def day_key(day: str) -> str:
    return f"{PREFIX}day:{day}"


def month_key(month: str) -> str:
    return f"{PREFIX}month:{month}"


def cost_key(message_id: str) -> str:
    return f"{PREFIX}cost:{message_id}"


def dates(now: float) -> tuple[str, str]:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m")


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
        pipe.set(cost_key(message_id), cost, ex=COST_TTL_S)
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
    raw = await redis.getdel(cost_key(message_id))  # taken: a message's cost moves once
    if raw is None:
        return 0
    cost = int(raw)
    day, _month = dates(now)
    pipe = redis.pipeline(transaction=False)  # one key: fine on a Cluster
    pipe.hincrby(day_key(day), outcome, cost)
    pipe.hincrby(day_key(day), f"{outcome}:n", 1)
    pipe.expire(day_key(day), DAY_TTL_S)
    await pipe.execute()
    return cost
