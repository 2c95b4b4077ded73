"""Helpers for velocity tests: rule engines on a Redis store, rule texts, Redis statistics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.velocity import OnError, RedisVelocity

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

ONE_LIMIT = """
rules:
  - id: per-number
    description: per number
    velocity: {key: recipient, limits: [{max: 2, per: 10m}]}
    action: block
"""


def engine(
    folder: Path,
    client: Redis,
    *,
    metrics: Metrics | None = None,
    on_error: OnError = "local",
    timeout_s: float = 2.0,
) -> RuleEngine:
    clock = FakeClock()
    store = RedisVelocity(
        client, clock=clock, timeout_s=timeout_s, on_error=on_error, retry_after_s=0.0
    )
    return RuleEngine(load_rules(folder), store, clock=clock, metrics=metrics)


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


async def commandstats(client: Redis) -> dict[str, int]:
    info = await client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


def fallbacks(metrics: Metrics, mode: str) -> float:
    value = metrics.registry.get_sample_value("smsguard_redis_fallbacks_total", {"mode": mode})
    return value or 0.0


@contextlib.asynccontextmanager
async def stalled(url: str, seconds: float) -> AsyncIterator[None]:
    """Redis asleep (DEBUG SLEEP) for `seconds` from entry; the exit waits until it wakes."""
    staller: Redis = Redis.from_url(url)
    sleeping = asyncio.create_task(staller.execute_command("DEBUG", "SLEEP", str(seconds)))
    await asyncio.sleep(0.05)  # let the DEBUG SLEEP reach the server first
    try:
        yield
    finally:
        await sleeping
        await staller.aclose()
