"""Redis down or slow: the `redis.on_error` fallbacks, counted, and releases kept for later."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import structlog
from redis.asyncio import Redis
from structlog.testing import capture_logs

from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.models import Action
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.redisproc import RedisProcess
from gateway.velocity import (
    CounterCheck,
    RedisVelocity,
    Window,
    redis_store,
)
from tests.policy.helpers import signals, sms, write_rules
from tests.velocity.helpers import (
    FOUR_COUNTERS,
    ONE_LIMIT,
    engine,
    fallbacks,
    stalled,
)

SENT_ONLY = """
rules:
  - id: sent-daily
    description: per number, messages sent
    velocity: {key: recipient, count: sent, limits: [{max: 5, per: 24h}]}
    action: block
"""


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
    metrics = Metrics()
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": ONE_LIMIT}), client, metrics=metrics, timeout_s=0.1
    )
    await e.decide(sms(), signals())  # warm: script loaded, connection open
    async with stalled(own_redis.url, 0.5):
        d = await e.decide(sms(), signals())
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


async def test_releases_while_redis_is_down_are_sent_when_it_is_back(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """A reservation settled as not sent during an outage is released once Redis answers."""
    client: Redis = Redis.from_url(own_redis.url)
    clock = FakeClock()
    store = RedisVelocity(client, clock=clock, timeout_s=0.05, retry_after_s=10.0)
    await store.start()
    e = RuleEngine(load_rules(write_rules(tmp_path, {"10-a.yaml": SENT_ONLY})), store, clock=clock)
    message, sig = sms(), signals()
    decision = await e.decide(message, sig)  # a reservation in Redis
    key = store.keys.key("sent-daily", ["+447400123456"])
    other = "+447400999999"
    async with stalled(own_redis.url, 0.3):
        await e.decide(sms(other), signals(e164=other))  # times out: Redis marked down
        await e.settle(message, sig, decision, False)  # cannot reach Redis now: kept for later
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


async def test_explain_with_redis_down_and_on_error_allow_reads_one_count_per_window(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """on_error=allow, Redis stopped: `rules explain` shows every window empty, no ValueError."""
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    e = engine(
        write_rules(tmp_path, {"10-a.yaml": FOUR_COUNTERS}), client, on_error="allow", timeout_s=0.5
    )
    own_redis.stop()
    d = await e.explain(sms(), signals())
    await client.aclose()
    assert d.action is Action.ALLOW
    assert d.trace[0].detail == (
        "under limit: recipient +44*******456: 0 in 10m (limit 7), 0 in 1d (limit 20)"
        " [redis unavailable: allow]"
    )


async def test_outage_warnings_are_spaced_by_the_injected_clock(
    own_redis: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During an outage: one warning per 5 s of the injected clock, not one per failed call."""
    # A logger not yet bound: the module's own may be cached by earlier tests, past capture_logs.
    monkeypatch.setattr(redis_store, "log", structlog.get_logger("gateway.velocity"))
    own_redis.stop()
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    clock = FakeClock()
    store = RedisVelocity(client, clock=clock, timeout_s=0.2, retry_after_s=0.0)
    store.keys.set_secret(b"")  # as after start(): Redis is tried on every call
    check = [CounterCheck(store.keys.key("r", ["k"]), (Window(600, 5),), True)]
    with capture_logs() as logs:
        for _ in range(3):
            await store.hit(check, "a" * 16, clock.time())
        clock.advance(6)
        await store.hit(check, "b" * 16, clock.time())
    await client.aclose()
    assert [e["event"] for e in logs] == ["velocity_redis_unavailable"] * 2
