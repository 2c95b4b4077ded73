"""Done-when: two gateways sharing one real Redis never overspend a budget, over loopback HTTP.

Each gateway is the real app (create_app) with its own Redis client and its own HTTP server; the
requests go over TCP to both at once. What was spent is read back three ways that must agree: the
messages the sandbox provider "delivered" priced one by one, the budget's counter in Redis, and
the spend ledger.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.clock import Clock, FakeClock
from gateway.providers.sandbox import sandbox_key
from gateway.settings import build_settings
from gateway.spend.counters import TOTAL
from gateway.spend.ledger import dates, day_key
from gateway.spend.periods import Period
from gateway.spend.segments import count_segments
from gateway.velocity import CounterKeys
from tests.auth0 import SECRET, auth_headers, gateway_token, legacy_payload
from tests.policy.helpers import write_rules

PRICE = 70_000  # $0.07 a segment to KG: a $1.00 budget holds 14 segments, not a round number
ONE_SEGMENT = "Ваш код: 123456"  # UCS-2, 15 units
TWO_SEGMENTS = "Ваш код для входа в приложение: 123456. Никому не сообщайте код, даже нам."  # 74
BUDGET_RULES = """
rules:
  - id: budget-overall
    description: one dollar a day
    budget: {max: 1.00, per: day, timezone: Asia/Bishkek}
    action: block
default: allow
"""
StartGateways = Callable[..., Awaitable[list[str]]]


@pytest.fixture
async def start_gateways(tmp_path: Path, redis_url: str) -> Any:
    """Start N real gateways (own app, own Redis client, own TCP port) sharing one Redis."""
    servers: list[TestServer] = []

    async def start(
        n: int = 2, clock: Clock | None = None, provider: dict[str, Any] | None = None
    ) -> list[str]:
        rules = write_rules(tmp_path / "rules", {"10-budget.yaml": BUDGET_RULES})
        data: dict[str, Any] = {
            "redis": {"url": redis_url, "call_timeout_ms": 2000},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"path": str(rules), "watch": False, "counter_hash_key": "k" * 32},
            "prices": {"currency": "USD", "per_country": {"KG": PRICE / 1_000_000}},
            "providers": [provider or {"name": "sandbox", "type": "sandbox", "keep": 10_000}],
        }
        for _ in range(n):
            server = TestServer(create_app(build_settings(data, environ={}), clock=clock))
            await server.start_server()
            servers.append(server)
        return [str(s.make_url("/sms")) for s in servers[-n:]]

    yield start
    for server in servers:
        await server.close()


async def post_all(urls: list[str], bodies: list[str], now: float | None = None) -> list[int]:
    """POST one message per body, alternating gateways, all at once (tokens issued at `now`)."""
    headers = auth_headers(gateway_token(now=now))
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, body: str) -> int:
            payload = legacy_payload(f"+996 555 {i // 1000:03d} {i % 1000:03d}")
            payload["body"] = body
            url = urls[i % len(urls)]
            async with session.post(url, json=payload, headers=headers) as resp:
                return resp.status

        return list(await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies))))


def test_the_bodies_have_the_segments_these_tests_rely_on() -> None:
    """The short body is one UCS-2 segment, the long one two."""
    assert count_segments(ONE_SEGMENT).segments == 1
    assert (count_segments(TWO_SEGMENTS).encoding, count_segments(TWO_SEGMENTS).segments) == (
        "UCS-2",
        2,
    )


async def spent(redis: Redis) -> tuple[int, int]:
    """(what the sandbox delivered, priced one by one; the number of messages delivered)."""
    raw = await redis.lrange(sandbox_key("sandbox"), 0, -1)
    bodies = [json.loads(item)["body"] for item in raw]
    return sum(count_segments(b).segments * PRICE for b in bodies), len(bodies)


async def test_1000_concurrent_messages_on_two_gateways_never_overspend(
    start_gateways: StartGateways, redis_url: str
) -> None:
    """1,000 concurrent messages (1 and 2 UCS-2 segments) against $1.00: at most $1.00 spent,
    and within one message of it, the counter, the ledger and the deliveries agreeing."""
    urls = await start_gateways(2)
    bodies = [ONE_SEGMENT if i % 3 else TWO_SEGMENTS for i in range(1000)]
    statuses = await post_all(urls, bodies)
    redis = Redis.from_url(redis_url)
    try:
        delivered, sent = await spent(redis)
        ledger = await redis.hget(day_key(dates(datetime.now().timestamp())[0]), "total")
    finally:
        await redis.aclose()
    assert sorted(set(statuses)) == [200, 429]
    assert statuses.count(200) == sent
    assert delivered <= 1_000_000
    assert delivered > 1_000_000 - 2 * PRICE  # the budget was used up to its last message
    assert int(ledger or 0) == delivered
    print(f"two gateways, 1000 messages: {sent} sent, ${delivered / 1e6:.2f} of $1.00 spent")


async def test_ucs2_and_long_bodies_count_their_segments_on_the_budget(
    start_gateways: StartGateways, redis_url: str
) -> None:
    """Seven 2-segment UCS-2 messages ($0.14 each) fill $1.00 to $0.98: the eighth is refused."""
    urls = await start_gateways(2)
    statuses = [(await post_all([urls[i % 2]], [TWO_SEGMENTS]))[0] for i in range(8)]
    assert statuses == [200] * 7 + [429]
    one_more = await post_all(urls, [ONE_SEGMENT])  # $0.07 does not fit in the $0.02 left
    assert one_more == [429]


async def test_the_day_rolls_over_at_local_midnight_on_every_gateway(
    start_gateways: StartGateways,
) -> None:
    """Spent by 23:59 Bishkek time, the budget admits again at 00:00 Bishkek on both gateways."""
    clock = FakeClock(datetime(2026, 12, 3, 23, 0, tzinfo=ZoneInfo("Asia/Bishkek")).timestamp())
    urls = await start_gateways(2, clock)
    first = await post_all(urls, [TWO_SEGMENTS] * 8, clock.time())
    assert sorted(first) == [200] * 7 + [429]
    clock.advance(59 * 60)  # 23:59
    assert await post_all(urls, [ONE_SEGMENT] * 2, clock.time()) == [429, 429]
    clock.advance(60)  # 00:00 in Bishkek (18:00 UTC, the same UTC day)
    assert await post_all(urls, [ONE_SEGMENT] * 2, clock.time()) == [200, 200]


async def test_messages_no_provider_sent_cost_nothing(
    start_gateways: StartGateways, redis_url: str
) -> None:
    """With every provider failing (502), 30 messages ($2.10) leave the budget untouched."""
    down = {
        "name": "down",
        "type": "http",
        "base_url": f"http://127.0.0.1:{unused_port()}",
        "max_attempts": 1,
    }
    urls = await start_gateways(2, provider=down)
    # One after another: 30 x $0.07 is twice the budget, and each failure gives its cost back.
    statuses = [(await post_all([urls[i % 2]], [ONE_SEGMENT]))[0] for i in range(30)]
    assert set(statuses) == {502}
    window = Period("day", 86400, "Asia/Bishkek").window(time.time())
    key = CounterKeys(b"k" * 32).key("budget-overall", ["", window.name])
    redis = Redis.from_url(redis_url)
    try:
        reserved = int(await redis.hget(key, TOTAL) or 0)
    finally:
        await redis.aclose()
    assert reserved == 0


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
