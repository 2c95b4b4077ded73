"""RedisVelocity against a real redis-server: exact limits under concurrency, bounded memory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.models import Action
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.velocity import (
    CounterCheck,
    RedisBatcher,
    RedisVelocity,
    Window,
    counter_key,
)
from tests.policy.helpers import signals, sms, write_rules
from tests.velocity.helpers import (
    FOUR_COUNTERS,
    engine,
    fallbacks,
    frozen_gc,
)

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules"


async def warm(batcher: RedisBatcher) -> None:
    """Open the connections the bursts use; a warm-up ping past its budget on a busy machine is
    not what the tests are about."""
    await asyncio.gather(*(batcher.run([("PING",)]) for _ in range(300)), return_exceptions=True)


async def test_concurrent_requests_for_one_number_send_exactly_the_limit(
    tmp_path: Path, redis: Redis
) -> None:
    """1,000 concurrent decisions for one number with a limit of 7 allow exactly 7, in Redis."""
    metrics = Metrics()
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), redis, metrics=metrics, timeout_s=0.05
    )
    assert isinstance(e.store, RedisVelocity)
    await warm(e.store.batcher)
    with frozen_gc():
        decisions = await asyncio.gather(*(e.decide(sms(), signals()) for _ in range(1000)))
    assert fallbacks(metrics, "local") == 0  # exact only when Redis decided every request
    assert sum(d.action is Action.ALLOW for d in decisions) == 7
    assert {d.rule_id for d in decisions if d.action is Action.BLOCK} == {"per-number"}


async def test_a_burst_within_the_production_budget_needs_no_fallback(redis: Redis) -> None:
    """1,000 concurrent requests for one number, shipped rules, 50 ms budget: Redis decides all."""
    metrics = Metrics()
    clock = FakeClock()
    store = RedisVelocity(redis, clock=clock, timeout_s=0.05, retry_after_s=0.0)
    await store.start()
    e = RuleEngine(load_rules(SHIPPED_RULES), store, clock=clock, metrics=metrics)
    requests = [
        (sms(request_id=f"burst-{i}"), signals(ip=f"81.2.{i // 250}.{i % 250 + 1}"))
        for i in range(1000)
    ]
    await warm(store.batcher)
    with frozen_gc():
        decisions = await asyncio.gather(*(e.decide(m, s) for m, s in requests))
    assert fallbacks(metrics, "local") == 0
    assert store.batcher.stats.errors == 0
    assert sum(d.action is Action.ALLOW for d in decisions) == 3  # recipient-limit: 3 a minute
    assert max(store.batcher.stats.by_size) <= 64


async def test_concurrent_requests_across_engines_share_one_budget(
    tmp_path: Path, redis_url: str
) -> None:
    """Two gateway processes (two clients, two engines) share the counters exactly."""
    folder = write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS})
    a: Redis = Redis.from_url(redis_url)
    b: Redis = Redis.from_url(redis_url)
    try:
        e1, e2 = engine(folder, a), engine(folder, b)
        decisions = await asyncio.gather(
            *(e.decide(sms(), signals()) for _ in range(300) for e in (e1, e2))
        )
    finally:
        await a.aclose()
        await b.aclose()
    assert sum(d.action is Action.ALLOW for d in decisions) == 7


async def test_counter_memory_stays_bounded(redis: Redis) -> None:
    """Expired events are trimmed as writes go on: a busy counter does not grow without bound."""
    store = RedisVelocity(redis, clock=FakeClock(), timeout_s=2.0)
    check = CounterCheck(counter_key("bounded", ["k"]), (Window(1, 5),), True)
    for i in range(1500):  # 5 allowed per second, for 300 seconds
        await store.hit([check], os.urandom(8).hex(), 1_700_000_000.0 + i * 0.2)
    # at most 5 live events, plus those since the last trim (about one write in 16 trims)
    assert await redis.zcard(check.key) <= 5 + 300
