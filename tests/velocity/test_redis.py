"""Velocity against a real redis-server: exactness under concurrency, one round trip, outages."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.models import Action
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.redisproc import RedisProcess
from gateway.velocity import (
    HASH_KEY_NAME,
    VELOCITY_SHA,
    CounterCheck,
    CounterKeys,
    RedisVelocity,
    Window,
    counter_key,
)
from tests.policy.helpers import signals, sms, write_rules

FOUR_COUNTERS = """
rules:
  - id: per-number
    description: per number
    velocity: {key: recipient, limits: [{max: 7, per: 10m}, {max: 20, per: 24h}]}
    action: block
  - id: per-ip
    description: per IP
    velocity: {key: ip, limits: [{max: 5000, per: 10m}]}
    action: block
  - id: per-net
    description: per /24
    velocity: {key: ip.net, limits: [{max: 5000, per: 10m}]}
    action: block
  - id: per-prefix
    description: per prefix
    velocity: {key: phone.prefix:8, limits: [{max: 5000, per: 1h}]}
    action: block
"""


def engine(
    folder: Path,
    client: Redis,
    *,
    metrics: Metrics | None = None,
    on_error: str = "local",
    timeout_s: float = 2.0,
) -> RuleEngine:
    clock = FakeClock()
    store = RedisVelocity(
        client, clock=clock, timeout_s=timeout_s, on_error=on_error, retry_after_s=0.0
    )
    return RuleEngine(load_rules(folder), store, clock=clock, metrics=metrics)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c: Redis = Redis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_concurrent_requests_for_one_number_send_exactly_the_limit(
    tmp_path: Path, client: Redis
) -> None:
    """1,000 concurrent decisions for one number with a limit of 7 allow exactly 7, in Redis."""
    metrics = Metrics()
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), client, metrics=metrics, timeout_s=0.05
    )
    assert isinstance(e.store, RedisVelocity)
    await asyncio.gather(*(e.store.batcher.run([("PING",)]) for _ in range(300)))  # warm
    with frozen_gc():
        decisions = await asyncio.gather(*(e.decide(sms(), signals()) for _ in range(1000)))
    assert fallbacks(metrics, "local") == 0  # exact only when Redis decided every request
    assert sum(d.action is Action.ALLOW for d in decisions) == 7
    assert {d.rule_id for d in decisions if d.action is Action.BLOCK} == {"per-number"}


@contextlib.contextmanager
def frozen_gc() -> Iterator[None]:
    """As in production (gateway.server): the start-up heap frozen, so a full collection of the
    test process's large heap does not stall the event loop past the Redis budget."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules"


async def test_a_burst_within_the_production_budget_needs_no_fallback(client: Redis) -> None:
    """1,000 concurrent requests for one number, shipped rules, 50 ms budget: Redis decides all."""
    metrics = Metrics()
    clock = FakeClock()
    store = RedisVelocity(client, clock=clock, timeout_s=0.05, retry_after_s=0.0)
    await store.start()
    e = RuleEngine(load_rules(SHIPPED_RULES), store, clock=clock, metrics=metrics)
    requests = [
        (sms(request_id=f"burst-{i}"), signals(ip=f"81.2.{i // 250}.{i % 250 + 1}"))
        for i in range(1000)
    ]
    await asyncio.gather(*(store.batcher.run([("PING",)]) for _ in range(300)))  # warm
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


async def commandstats(client: Redis) -> dict[str, int]:
    info = await client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


async def test_one_evalsha_per_decision_whatever_the_number_of_counters(
    tmp_path: Path, client: Redis
) -> None:
    """Four counters, five windows: each decision is one EVALSHA and one pipeline."""
    e = engine(write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), client)
    await e.decide(sms(), signals())  # loads the script once (NOSCRIPT -> SCRIPT LOAD)
    assert isinstance(e.store, RedisVelocity)
    pipelines = e.store.batcher.stats.pipelines
    before = await commandstats(client)
    for i in range(20):
        n = f"+4474009{i:05d}"
        await e.decide(sms(n), signals(e164=n))
    after = await commandstats(client)
    assert after["evalsha"] - before["evalsha"] == 20
    assert e.store.batcher.stats.pipelines - pipelines == 20
    top_level = {"evalsha", "eval", "script|load", "script", "multi", "exec", "get", "set"}
    grown = {k for k in after if after[k] > before.get(k, 0)} & top_level
    assert grown == {"evalsha"}


async def test_concurrent_decisions_share_pipelines(tmp_path: Path, client: Redis) -> None:
    """Decisions issued in one event-loop tick share pipelines of at most 64 calls."""
    e = engine(write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), client)
    await e.decide(sms(), signals())
    assert isinstance(e.store, RedisVelocity)
    pipelines = e.store.batcher.stats.pipelines
    before = await commandstats(client)
    numbers = [f"+4474009{i:05d}" for i in range(200)]
    await asyncio.gather(*(e.decide(sms(n), signals(e164=n)) for n in numbers))
    after = await commandstats(client)
    assert after["evalsha"] - before["evalsha"] == 200
    assert e.store.batcher.stats.pipelines - pipelines == 4  # 64 + 64 + 64 + 8


# --- outages: a private redis-server we can stop or stall ------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server for this test only (it gets stopped or put to sleep)."""
    server = RedisProcess(
        tmp_path / "redis", appendonly=False, extra=["--enable-debug-command", "yes"]
    )
    with server:
        yield server


ONE_LIMIT = """
rules:
  - id: per-number
    description: per number
    velocity: {key: recipient, limits: [{max: 2, per: 10m}]}
    action: block
"""


def fallbacks(metrics: Metrics, mode: str) -> float:
    value = metrics.registry.get_sample_value("smsguard_redis_fallbacks_total", {"mode": mode})
    return value or 0.0


async def test_redis_down_falls_back_to_local_counters(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """With Redis stopped, limits still hold per process, and the fallback is counted."""
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    metrics = Metrics()
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": ONE_LIMIT}), client, metrics=metrics, timeout_s=0.5
    )
    assert (await e.decide(sms(), signals())).action is Action.ALLOW
    own_redis.stop()
    results = [await e.decide(sms(), signals()) for _ in range(3)]
    await client.aclose()
    assert [d.action for d in results] == [Action.ALLOW, Action.ALLOW, Action.BLOCK]
    assert "per-process counters" in results[2].reason
    assert fallbacks(metrics, "local") == 3


@pytest.mark.parametrize(("mode", "expected"), [("allow", Action.ALLOW), ("block", Action.BLOCK)])
async def test_on_error_allow_or_block(
    tmp_path: Path, own_redis: RedisProcess, mode: str, expected: Action
) -> None:
    """redis.on_error=allow lets velocity rules pass; block refuses while Redis is down."""
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    metrics = Metrics()
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": ONE_LIMIT}),
        client,
        metrics=metrics,
        on_error=mode,
        timeout_s=0.5,
    )
    own_redis.stop()
    d = await e.decide(sms(), signals())
    await client.aclose()
    assert d.action is expected
    assert fallbacks(metrics, mode) == 1
    if mode == "block":
        assert d.reason == "velocity store unavailable (redis.on_error=block): per-number"


async def test_slow_redis_falls_back_after_the_call_timeout(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """A Redis stalled by DEBUG SLEEP answers too late: the decision uses local counters."""
    client: Redis = Redis.from_url(own_redis.url)
    staller: Redis = Redis.from_url(own_redis.url)
    metrics = Metrics()
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": ONE_LIMIT}), client, metrics=metrics, timeout_s=0.1
    )
    await e.decide(sms(), signals())  # warm: script loaded, connection open
    sleeping = asyncio.create_task(staller.execute_command("DEBUG", "SLEEP", "0.5"))
    await asyncio.sleep(0.05)  # let the DEBUG SLEEP reach the server first
    d = await e.decide(sms(), signals())
    await sleeping
    await staller.aclose()
    assert d.action is Action.ALLOW
    assert fallbacks(metrics, "local") == 1
    # Redis answers again and is used: the timed-out call still ran there once the sleep ended
    # (a timeout cannot take back a command already sent), so its counter holds 2.
    d = await e.decide(sms(), signals())
    await client.aclose()
    assert (d.action, d.reason) == (
        Action.BLOCK,
        "recipient +44*******456 made 2 attempts in 10m, limit 2",
    )
    assert fallbacks(metrics, "local") == 1


async def test_counter_memory_stays_bounded(client: Redis) -> None:
    """Expired events are trimmed as writes go on: a busy counter does not grow without bound."""
    import os

    from gateway.velocity import CounterCheck, Window, counter_key

    store = RedisVelocity(client, clock=FakeClock(), timeout_s=2.0)
    check = CounterCheck(counter_key("bounded", ["k"]), (Window(1, 5),), True)
    for i in range(1500):  # 5 allowed per second, for 300 seconds
        await store.hit([check], os.urandom(8).hex(), 1_700_000_000.0 + i * 0.2)
    # at most 5 live events, plus those since the last trim (about one write in 16 trims)
    assert await client.zcard(check.key) <= 5 + 300


async def test_a_slow_pipeline_fails_only_its_own_callers(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """A pipeline stalled past its budget fails its callers; calls queued behind it do not."""
    client: Redis = Redis.from_url(own_redis.url)
    staller: Redis = Redis.from_url(own_redis.url)
    store = RedisVelocity(client, clock=FakeClock(), timeout_s=0.2)
    store.batcher.max_in_flight = 1
    await store.start()
    check = CounterCheck(counter_key("slow", ["k"]), (Window(600, 1000),), True)
    sleeping = asyncio.create_task(staller.execute_command("DEBUG", "SLEEP", "0.4"))
    await asyncio.sleep(0.05)  # let the DEBUG SLEEP reach the server first
    # 64 calls in the stalled pipeline, 10 queued behind it (max one pipeline in flight).
    first = [store.batcher.submit([("PING",)]) for _ in range(64)]
    queued = [store.batcher.submit([("PING",)]) for _ in range(10)]
    await asyncio.gather(*first, return_exceptions=True)
    await sleeping
    results = await asyncio.gather(*queued, return_exceptions=True)
    await staller.aclose()
    outcome = await store.hit([check], "a" * 16, 1_700_000_000.0)
    await client.aclose()
    assert all(isinstance(f.exception(), TimeoutError) for f in first)
    assert all(r == [True] for r in results)
    assert outcome.fallback is None


async def test_start_loads_the_script_and_shares_one_hash_key(redis_url: str) -> None:
    """start(): the script is loaded and two instances settle on the same counter-key secret."""
    a: Redis = Redis.from_url(redis_url)
    b: Redis = Redis.from_url(redis_url)
    try:
        await a.script_flush()
        one = RedisVelocity(a, clock=FakeClock())
        two = RedisVelocity(b, clock=FakeClock())
        await one.start()
        await two.start()
        loaded = await a.script_exists(VELOCITY_SHA)
    finally:
        await a.aclose()
        await b.aclose()
    assert loaded == [True]
    assert one.keys.ready
    assert two.keys.ready
    assert one.keys.key("r", ["+447400123456"]) == two.keys.key("r", ["+447400123456"])


def test_counter_key_names_are_keyed_hashes() -> None:
    """Without the secret a key name cannot be recomputed from a guessed number."""
    keyed = CounterKeys(b"secret-1").key("r", ["+447400123456"])
    assert keyed != CounterKeys(b"secret-2").key("r", ["+447400123456"])
    assert keyed != counter_key("r", ["+447400123456"])
    unkeyed = hashlib.blake2b(b"+447400123456", digest_size=10).hexdigest()
    assert unkeyed not in keyed


SENT_ONLY = """
rules:
  - id: sent-daily
    description: per number, messages sent
    velocity: {key: recipient, count: sent, limits: [{max: 5, per: 24h}]}
    action: block
"""


async def test_releases_while_redis_is_down_are_sent_when_it_is_back(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """A reservation settled as not sent during an outage is released once Redis answers."""
    client: Redis = Redis.from_url(own_redis.url)
    staller: Redis = Redis.from_url(own_redis.url)
    clock = FakeClock()
    store = RedisVelocity(client, clock=clock, timeout_s=0.05, retry_after_s=10.0)
    await store.start()
    e = RuleEngine(load_rules(write_rules(tmp_path, {"10-a.yaml": SENT_ONLY})), store, clock=clock)
    message, sig = sms(), signals()
    decision = await e.decide(message, sig)  # a reservation in Redis
    key = store.keys.key("sent-daily", ["+447400123456"])
    sleeping = asyncio.create_task(staller.execute_command("DEBUG", "SLEEP", "0.3"))
    await asyncio.sleep(0.05)
    other = "+447400999999"
    await e.decide(sms(other), signals(e164=other))  # times out: Redis marked down
    await e.settle(message, sig, decision, False)  # cannot reach Redis now: kept for later
    await sleeping
    await staller.aclose()
    held = await client.zcard(key)
    clock.advance(11)
    await e.decide(sms(other), signals(e164=other))  # Redis answers: pending releases go out
    for _ in range(100):
        if await client.zcard(key) == 0:
            break
        await asyncio.sleep(0.01)
    left = await client.zcard(key)
    await client.aclose()
    assert (held, left) == (1, 0)


async def test_redis_down_at_start_falls_back_until_the_shared_key_is_read(
    own_redis: RedisProcess,
) -> None:
    """No Redis at start: local counters; once Redis is up, the secret is read and Redis used."""
    own_redis.stop()
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    store = RedisVelocity(client, clock=FakeClock(), timeout_s=0.2, retry_after_s=0.0)
    check = lambda: [  # noqa: E731 - key names change once the secret is known
        CounterCheck(store.keys.key("r", ["k"]), (Window(600, 5),), True)
    ]
    await store.start()
    before = await store.hit(check(), "a" * 16, 1_700_000_000.0)
    own_redis.start()
    for _ in range(100):
        if store.keys.ready:
            break
        await asyncio.sleep(0.05)
    after = await store.hit(check(), "b" * 16, 1_700_000_000.0)
    await store.stop()
    await client.aclose()
    assert before.fallback == "local"
    assert store.keys.ready
    assert after.fallback is None


async def test_a_restarted_redis_gets_the_shared_key_back(own_redis: RedisProcess) -> None:
    """Redis lost its data: the first calls afterwards put this instance's secret back."""
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    store = RedisVelocity(client, clock=FakeClock(), timeout_s=0.5, retry_after_s=0.0)
    await store.start()
    secret = await client.get(HASH_KEY_NAME)
    own_redis.stop()
    own_redis.start()  # no persistence: an empty Redis
    check = [CounterCheck(store.keys.key("r", ["k"]), (Window(600, 5),), True)]
    outcomes = [await store.hit(check, f"{i:016x}", 1_700_000_000.0) for i in range(3)]
    restored = await client.get(HASH_KEY_NAME)
    await client.aclose()
    assert outcomes[-1].fallback is None
    assert restored == secret
