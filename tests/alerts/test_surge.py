"""Refusal surges: a country, range or rule refusing far above its own level raises one alert."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.alerts.dispatcher import Alerter
from gateway.alerts.surge import SurgeWatch
from gateway.clock import FakeClock
from gateway.events.keys import HOUR_PREFIX, MINUTE_PREFIX, aggregate_fields
from gateway.events.schema import DecisionEvent
from gateway.settings.alerts import SurgeSettings
from tests.alerts.conftest import MakeAlerter, Receivers


def refused(country: str, prefix: str, rule: str, at: float) -> DecisionEvent:
    return DecisionEvent(
        time=at,
        id="x",
        action="blocked",
        http_status=429,
        to="+996*******12",
        phone_hash="h",
        prefix=prefix,
        rule=rule,
        signals={"country": country},
    )


async def record(redis: Redis, event: DecisionEvent, n: int) -> None:
    """What the event recorder adds to the minute and hour aggregates for n such events."""
    for field in aggregate_fields(event):
        await redis.hincrby(f"{MINUTE_PREFIX}{int(event.time // 60)}", field, n)
        await redis.hincrby(f"{HOUR_PREFIX}{int(event.time // 3600)}", field, n)


async def watch_once(redis_url: str, alerter: Alerter, clock: FakeClock) -> list[str]:
    redis: Redis = Redis.from_url(redis_url)
    try:
        watch = SurgeWatch(redis, alerter, clock, SurgeSettings())
        return [a.title for a in await watch.check()]
    finally:
        await redis.aclose()


async def test_a_surge_over_the_daily_level_alerts_per_country_range_and_rule(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock, redis_url: str
) -> None:
    """A day of 2 refusals an hour for KG, then 40 in five minutes: one alert each for the
    country, the range and the rule; the same count spread over the day alerts nothing."""
    redis: Redis = Redis.from_url(redis_url)
    now = clock.time()
    for hours_ago in range(1, 25):
        await record(redis, refused("KG", "996700", "unserved-country", now - hours_ago * 3600), 2)
    quiet = await watch_once(redis_url, await make_alerter(), clock)
    for minutes_ago in range(5):
        at = now - minutes_ago * 60
        await record(redis, refused("KG", "996700", "unserved-country", at), 8)
    await redis.aclose()
    alerter = await make_alerter()
    titles = await watch_once(redis_url, alerter, clock)
    await alerter.drain(5.0)
    assert quiet == []
    assert sorted(titles) == [
        "Refusals surge for country KG",
        "Refusals surge for range +996700",
        "Refusals surge for rule unserved-country",
    ]
    assert len(receivers.webhook.bodies) == 3
    country = next(b for b in receivers.webhook.bodies if b["incident"] == "surge:c:KG")
    assert str(country["summary"]).startswith("40 refused in 10 min")
    assert str(country["link"]).endswith("/dashboard/events?action=blocked&country=KG")


async def test_a_busy_but_steady_destination_does_not_alert(
    make_alerter: MakeAlerter, clock: FakeClock, redis_url: str
) -> None:
    """Refusing at its usual rate (60 an hour all day) is not a surge."""
    redis: Redis = Redis.from_url(redis_url)
    now = clock.time()
    for hours_ago in range(1, 25):
        await record(redis, refused("UZ", "998901", "prefix-spike", now - hours_ago * 3600), 60)
    for minutes_ago in range(10):
        await record(redis, refused("UZ", "998901", "prefix-spike", now - minutes_ago * 60), 1)
    await redis.aclose()
    assert await watch_once(redis_url, await make_alerter(), clock) == []
