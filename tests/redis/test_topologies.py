"""Two gateways on a real Redis Cluster and a real Sentinel set: shared limits, failover.

Each test runs once per topology. The failover test kills (SIGKILL) the primary that holds the
velocity counters under steady load and follows the gateways through the promotion of a replica.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.appkeys import METRICS
from gateway.clock import SystemClock
from gateway.redisclient import build_redis
from gateway.redisproc import RedisProcess
from gateway.settings import RedisConnection, build_settings
from gateway.velocity import KEY_PREFIX, CounterCheck, RedisVelocity, Window
from tests.auth0 import SECRET, auth_headers, legacy_payload
from tests.policy.helpers import write_rules
from tests.providers.fakes import TWILIO_CREATED, TWILIO_PATH, TWILIO_SID, TWILIO_TOKEN
from tests.providers.plugin import StartFake
from tests.redis.topologies import Cluster, SentinelSet, wait_for

pytestmark = pytest.mark.redis_topology

Client = TestClient[web.Request, web.Application]

LIMIT = 5
PER_NUMBER = f"""
rules:
  - id: per-number
    description: per number
    velocity: {{key: recipient, limits: [{{max: {LIMIT}, per: 10m}}]}}
    action: block
"""


@dataclass
class Topology:
    """A running topology as the tests need it: gateway settings, and a crash of the primary."""

    name: str
    redis: dict[str, Any]
    velocity_primary: Callable[[], RedisProcess]


@pytest.fixture(params=["cluster", "sentinel"])
def topology(request: pytest.FixtureRequest) -> Topology:
    """The Cluster or the Sentinel set (each started once for the session)."""
    if request.param == "cluster":
        cluster: Cluster = request.getfixturevalue("cluster")

        cluster.wait_healthy()  # a node restarted by an earlier test has rejoined

        return Topology(
            "cluster",
            {"mode": "cluster", "url": cluster.url, "nodes": cluster.seeds[1:]},
            lambda: cluster.master_of(KEY_PREFIX),
        )
    sentinels: SentinelSet = request.getfixturevalue("sentinel_set")
    sentinels.wait_healthy()  # an old primary restarted by an earlier test is a replica again
    return Topology(
        "sentinel",
        {"mode": "sentinel", "sentinels": sentinels.addresses},
        sentinels.primary,
    )


GatewayPair = tuple[Client, Client]
ANSWER_WITHIN_S = 5.0  # the longest a request or probe may take during the failover


@pytest.fixture
async def gateways(
    aiohttp_client: Any, fake_api: StartFake, topology: Topology, tmp_path: Path
) -> GatewayPair:
    """Two gateway apps, each with its own Redis client, on the same topology and rules, sending
    through a real HTTP server playing Twilio (the sandbox provider would itself need Redis)."""
    _, twilio_url = await fake_api(TWILIO_PATH, [TWILIO_CREATED])  # no spec check: not the point
    rules = write_rules(tmp_path, {"10-a.yaml": PER_NUMBER})
    settings = build_settings(
        {
            # A budget far above loopback latency: on a busy 2-core machine a 50 ms budget is
            # sometimes spent by the event loop alone (README, performance), and these tests
            # are about the topology, not about latency.
            "redis": {**topology.redis, "call_timeout_ms": 1000},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"path": str(rules), "watch": False},
            "providers": [
                {
                    "name": "twilio",
                    "type": "twilio",
                    "account_sid": TWILIO_SID,
                    "auth_token": TWILIO_TOKEN,
                    "from": "+15005550006",
                    "base_url": twilio_url,
                }
            ],
        },
        environ={},
    )
    pair: GatewayPair = (
        await aiohttp_client(create_app(settings)),
        await aiohttp_client(create_app(settings)),
    )
    for client in pair:  # connections open, slot map read: the tests start warm
        await client.post("/sms", json=legacy_payload(fresh_number()), headers=auth_headers())
    return pair


_numbers = itertools.count(random.randrange(10**6))


def fresh_number() -> str:
    """A recipient no earlier test (or run on the same topology) has counted."""
    return f"+4474{next(_numbers) % 10**8:08d}"


def sample(client: Client, name: str, **labels: str) -> float:
    value = client.app[METRICS].registry.get_sample_value(name, labels)
    return value or 0.0


def sent(pair: GatewayPair) -> float:
    return sum(sample(c, "smsguard_requests_total", outcome="sent") for c in pair)


def fallbacks(pair: GatewayPair) -> float:
    return sum(sample(c, "smsguard_redis_fallbacks_total", mode="local") for c in pair)


async def burst(pair: GatewayPair, number: str, n: int) -> list[int]:
    """`n` concurrent requests for one number, alternating between the two gateways."""
    replies = await asyncio.gather(
        *(
            pair[i % 2].post("/sms", json=legacy_payload(number), headers=auth_headers())
            for i in range(n)
        )
    )
    return [r.status for r in replies]


async def test_two_gateways_share_one_limit_exactly(
    gateways: GatewayPair, topology: Topology
) -> None:
    """60 concurrent requests for one number over two gateways, limit 5: exactly 5 are sent."""
    before = sent(gateways)
    statuses = await burst(gateways, fresh_number(), 60)
    assert sent(gateways) - before == LIMIT
    assert all(s < 500 for s in statuses)
    assert fallbacks(gateways) == 0


@dataclass
class Timeline:
    """What the load and the probes saw, stamped with time.monotonic()."""

    statuses: Counter[int] = field(default_factory=Counter)
    probes: list[tuple[float, int]] = field(default_factory=list)
    requests: int = 0
    unanswered: int = 0


async def steady_load(pair: GatewayPair, line: Timeline, stop: asyncio.Event) -> None:
    """Four senders at about 25 requests a second each, fresh numbers, both gateways."""

    async def sender(client: Client) -> None:
        while not stop.is_set():
            try:  # bounded: a request that is never answered is a finding, not a hang
                async with asyncio.timeout(ANSWER_WITHIN_S):
                    resp = await client.post(
                        "/sms", json=legacy_payload(fresh_number()), headers=auth_headers()
                    )
            except TimeoutError:
                line.unanswered += 1
                continue
            line.statuses[resp.status] += 1
            line.requests += 1
            await asyncio.sleep(0.04)

    await asyncio.gather(*(sender(pair[i % 2]) for i in range(4)))


async def probe_readiness(pair: GatewayPair, line: Timeline, stop: asyncio.Event) -> None:
    """Both gateways' /readyz every 100 ms (a probe not answered within 5 s counts as 504)."""
    while not stop.is_set():
        for client in pair:
            try:
                async with asyncio.timeout(ANSWER_WITHIN_S):
                    status = (await client.get("/readyz")).status
            except TimeoutError:
                status = 504
            line.probes.append((time.monotonic(), status))
        await asyncio.sleep(0.1)


async def until(what: str, ready: Callable[[], bool], timeout_s: float = 30.0) -> float:
    """`wait_for` without blocking the event loop the gateways run on."""
    return await asyncio.to_thread(wait_for, what, ready, timeout_s)


async def test_failover_of_the_velocity_primary_under_load(
    gateways: GatewayPair, topology: Topology, record_property: Callable[[str, object], None]
) -> None:
    """Kill the primary holding the counters under load: decisions go on, no 5xx, /readyz back
    within 5 s of the promotion and stable, local fallback only during the failover, limits
    exact again after."""
    line = Timeline()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(steady_load(gateways, line, stop)),
        asyncio.create_task(probe_readiness(gateways, line, stop)),
    ]
    try:
        await asyncio.sleep(1.0)
        fallbacks_before = fallbacks(gateways)
        victim = topology.velocity_primary()
        victim.kill()
        killed_at = time.monotonic()
        await until("replica promoted", lambda: topology.velocity_primary().port != victim.port)
        promoted_at = time.monotonic()
        await until("/readyz 200 again", lambda: line.probes[-1][1] == 200, timeout_s=10)
        await asyncio.sleep(0.5)  # a decision in flight at recovery may still fall back
        fallbacks_settled = fallbacks(gateways)
        served_at_settle = line.requests
        await asyncio.sleep(2.0)  # stable: no failed probe, no fallback
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        victim.start()  # rejoins as a replica of the promoted node (awaited by the next test)
    fallbacks_after = fallbacks(gateways)
    failed_probes = [t for t, status in line.probes if status != 200]
    recovered_at = max(failed_probes, default=promoted_at)
    sent_before = sent(gateways)
    exact = await burst(gateways, fresh_number(), 40)
    sent_exact = sent(gateways) - sent_before
    record_property("promotion_s", round(promoted_at - killed_at, 2))
    record_property("readyz_back_after_promotion_s", round(recovered_at - promoted_at, 2))
    record_property("fallbacks_during_failover", fallbacks_settled - fallbacks_before)
    record_property("requests", line.requests)
    print(  # the figures the README quotes; shown with -s or -rP
        f"\n[{topology.name}] promotion {promoted_at - killed_at:.2f} s after the kill; "
        f"/readyz last non-200 {recovered_at - promoted_at:+.2f} s from the promotion; "
        f"{fallbacks_settled - fallbacks_before:.0f} local fallbacks of {line.requests} requests; "
        f"statuses {dict(line.statuses)}"
    )
    assert fallbacks_before == 0
    assert line.requests > served_at_settle > 0  # decisions kept coming
    assert line.unanswered == 0
    assert all(status < 500 for status in line.statuses), line.statuses
    assert recovered_at - promoted_at <= 5.0
    assert fallbacks_after == fallbacks_settled, "fallbacks once recovered"
    assert all(status < 500 for status in exact), exact
    assert sent_exact == LIMIT


async def test_a_shard_down_elsewhere_does_not_keep_velocity_off_redis(cluster: Cluster) -> None:
    """A Cluster primary that does not hold the counters is down at start: the counter secret is
    still read and decisions are counted in Redis (its SCRIPT LOAD failing is not fatal)."""
    cluster.wait_healthy()
    other = cluster.master_of(_key_elsewhere(cluster))
    other.kill()
    client = build_redis(RedisConnection(mode="cluster", url=cluster.url, nodes=cluster.seeds))
    store = RedisVelocity(client, clock=SystemClock(), timeout_s=1.0)
    try:
        await store.start()
        check = [CounterCheck(store.keys.key("r", ["k"]), (Window(600, 5),), True)]
        outcome = await store.hit(check, "a" * 16, time.time())
    finally:
        await store.stop()
        await client.aclose()
        other.start()  # rejoins as a replica (awaited by the next test)
    assert store.keys.ready
    assert outcome.fallback is None


def _key_elsewhere(cluster: Cluster) -> str:
    """A key whose slot another primary than the velocity one serves."""
    velocity = cluster.master_of(KEY_PREFIX).port
    return next(k for k in (f"k{i}" for i in range(100)) if cluster.master_of(k).port != velocity)
