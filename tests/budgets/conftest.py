"""Budget tests: rule engines over the in-process counters and over a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.policy.budget import BudgetPricing
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.spend.rates import Rates
from gateway.velocity import LocalVelocity, RedisVelocity, VelocityStore
from tests.policy.helpers import write_rules

# One cent a segment everywhere, five cents to KG: amounts in tests are easy to read.
RATES = Rates("USD", 10_000, {"KG": 50_000})
MakeEngine = Callable[..., Awaitable[RuleEngine]]


def pricing(rates: Rates = RATES) -> BudgetPricing:
    return BudgetPricing(rates, lambda country: "twilio" if country == "KG" else "vonage")


@pytest.fixture(params=["local", "redis"])
async def make_engine(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[MakeEngine]:
    """An engine over the given rules, on LocalVelocity or on RedisVelocity (a real Redis)."""
    clients: list[Redis] = []

    async def make(rules: str, clock: FakeClock | None = None) -> RuleEngine:
        folder = write_rules(tmp_path / f"rules{len(clients)}", {"10-budgets.yaml": rules})
        clock = clock or FakeClock()
        store: VelocityStore
        if request.param == "redis":
            redis = Redis.from_url(redis_url)
            clients.append(redis)
            store = RedisVelocity(redis, clock=clock, timeout_s=2.0)
            await store.start(b"test-secret")
        else:
            clients.append(Redis.from_url(redis_url))  # only counts the engines made
            store = LocalVelocity()
        return RuleEngine(load_rules(folder), store, clock=clock, pricing=pricing())

    yield make
    for client in clients:
        await client.aclose()
