"""The batcher: one EVALSHA per decision, shared pipelines, a slow pipeline fails only its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.redisproc import RedisProcess
from gateway.velocity import (
    CounterCheck,
    RedisVelocity,
    Window,
    counter_key,
)
from tests.policy.helpers import signals, sms, write_rules
from tests.velocity.helpers import (
    FOUR_COUNTERS,
    commandstats,
    engine,
    stalled,
)


async def test_one_evalsha_per_decision_whatever_the_number_of_counters(
    tmp_path: Path, redis: Redis
) -> None:
    """Four counters, five windows: each decision is one EVALSHA and one pipeline."""
    e = engine(write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), redis)
    await e.decide(sms(), signals())  # loads the script once (NOSCRIPT -> SCRIPT LOAD)
    assert isinstance(e.store, RedisVelocity)
    pipelines = e.store.batcher.stats.pipelines
    before = await commandstats(redis)
    for i in range(20):
        n = f"+4474009{i:05d}"
        await e.decide(sms(n), signals(e164=n))
    after = await commandstats(redis)
    assert after["evalsha"] - before["evalsha"] == 20
    assert e.store.batcher.stats.pipelines - pipelines == 20
    top_level = {"evalsha", "eval", "script|load", "script", "multi", "exec", "get", "set"}
    grown = {k for k in after if after[k] > before.get(k, 0)} & top_level
    assert grown == {"evalsha"}


async def test_concurrent_decisions_share_pipelines(tmp_path: Path, redis: Redis) -> None:
    """Decisions issued in one event-loop tick share pipelines of at most 64 calls."""
    e = engine(write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), redis)
    await e.decide(sms(), signals())
    assert isinstance(e.store, RedisVelocity)
    pipelines = e.store.batcher.stats.pipelines
    before = await commandstats(redis)
    numbers = [f"+4474009{i:05d}" for i in range(200)]
    await asyncio.gather(*(e.decide(sms(n), signals(e164=n)) for n in numbers))
    after = await commandstats(redis)
    assert after["evalsha"] - before["evalsha"] == 200
    assert e.store.batcher.stats.pipelines - pipelines == 4  # 64 + 64 + 64 + 8


# --- outages: a private redis-server we can stop or stall ------------------------------------


async def test_a_slow_pipeline_fails_only_its_own_callers(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """A pipeline stalled past its budget fails its callers; calls queued behind it do not."""
    client: Redis = Redis.from_url(own_redis.url)
    store = RedisVelocity(client, clock=FakeClock(), timeout_s=0.2)
    store.batcher.max_in_flight = 1
    await store.start()
    check = CounterCheck(counter_key("slow", ["k"]), (Window(600, 1000),), True)
    async with stalled(own_redis.url, 0.4):
        # 64 calls in the stalled pipeline, 10 queued behind it (max one pipeline in flight).
        first = [store.batcher.submit([("PING",)]) for _ in range(64)]
        queued = [store.batcher.submit([("PING",)]) for _ in range(10)]
        await asyncio.gather(*first, return_exceptions=True)
    results = await asyncio.gather(*queued, return_exceptions=True)
    outcome = await store.hit([check], "a" * 16, 1_700_000_000.0)
    await client.aclose()
    assert all(isinstance(f.exception(), TimeoutError) for f in first)
    assert all(r == [True] for r in results)
    assert outcome.fallback is None
