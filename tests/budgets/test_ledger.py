"""The spend ledger: each sent message's cost per day and month, country and route; receipts move
it to delivered or failed once."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.providers.status import delivery_status
from gateway.spend.ledger import SpendLedger, count_outcome, day_key, month_key
from gateway.spend.rates import Rates

RATES = Rates("USD", 10_000, {"KG": 50_000})
NOON = 1_796_299_200.0  # 2026-12-03 12:00 UTC


async def test_sent_messages_add_up_per_country_route_day_and_month(redis_url: str) -> None:
    """Two KG messages (one of 2 segments) and one GB: the day and the month hold the same sums."""
    redis = Redis.from_url(redis_url)
    metrics = Metrics()
    ledger = SpendLedger(redis, RATES, FakeClock(NOON), metrics)
    ledger.sent("m1", "code 1", "KG", "twilio")
    ledger.sent("m2", "a" * 161, "KG", "twilio")
    ledger.sent("m3", "code 3", "GB", "vonage")
    await ledger.drain()
    day = await redis.hgetall(day_key("2026-12-03"))
    month = await redis.hgetall(month_key("2026-12"))
    await redis.aclose()
    assert day == month
    assert {str(k, "utf-8") if isinstance(k, bytes) else k: int(v) for k, v in day.items()} == {
        "c:KG": 150_000,
        "r:twilio": 150_000,
        "c:GB": 10_000,
        "r:vonage": 10_000,
        "total": 160_000,
        "n": 3,
    }
    assert metrics.spend.labels("KG", "twilio", "USD")._value.get() == 150_000


async def test_a_receipt_moves_the_cost_once_and_leaves_no_status_before_it(
    redis_url: str,
) -> None:
    """Before a receipt a message has no delivery status (regression: the events page showed a
    status-less record); a final status moves its cost once, a second one does not."""
    redis = Redis.from_url(redis_url)
    ledger = SpendLedger(redis, RATES, FakeClock(NOON), Metrics())
    ledger.sent("m1", "code 1", "KG", "twilio")
    ledger.sent("m2", "code 2", "KG", "twilio")
    await ledger.drain()
    assert await delivery_status(redis, "m1") is None
    moved = [
        await count_outcome(redis, "m1", "delivered", NOON),
        await count_outcome(redis, "m1", "failed", NOON),
        await count_outcome(redis, "m2", "undelivered", NOON),
        await count_outcome(redis, "m2", "sent", NOON),
    ]
    day = await redis.hgetall(day_key("2026-12-03"))
    await redis.aclose()
    assert moved == [50_000, 0, 50_000, 0]
    assert (int(day[b"delivered"]), int(day[b"failed"])) == (50_000, 50_000)
