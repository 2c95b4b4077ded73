"""The key layout: every family's multi-key operations run on a real Cluster; old names move."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.clock import SystemClock
from gateway.dashboard.auth import LoginLimiter, SessionStore
from gateway.feedback.store import Completion
from gateway.overrides import AUDIT_KEY, HASH_KEY, Overrides
from gateway.pin.store import PinStore
from gateway.redisclient import build_redis
from gateway.redislayout import LAYOUT_KEY, migrate_legacy_keys
from gateway.settings import DashboardSettings, RedisConnection
from tests.feedback.helpers import T0, make_store, sent
from tests.redis.topologies import Cluster


@pytest.fixture
async def on_cluster(cluster: Cluster) -> AsyncIterator[Redis]:
    """A client of the session's Cluster, built as the gateway builds it."""
    cluster.wait_healthy()
    client = build_redis(RedisConnection(mode="cluster", url=cluster.url))
    yield client
    await client.aclose()


@pytest.mark.redis_topology
async def test_overrides_change_and_audit_in_one_transaction_on_a_cluster(
    on_cluster: Redis,
) -> None:
    """Adding and removing an override (MULTI over the list and its audit) works on a Cluster."""
    overrides = Overrides(on_cluster, SystemClock())
    added = await overrides.add("ip", "203.0.113.9", "block", reason="attack", author="t")
    removed = await overrides.remove(added.id, author="t")
    assert removed is not None
    assert await on_cluster.xlen(AUDIT_KEY) >= 2
    assert await on_cluster.hget(HASH_KEY, added.id) is None


@pytest.mark.redis_topology
async def test_pin_attempt_scripts_run_on_a_cluster(on_cluster: Redis) -> None:
    """The PIN scripts, which read a user's and an IP's counters together, work on a Cluster."""
    store = PinStore(on_cluster, max_failures=5)
    sub = f"sms|layout-{time.monotonic_ns()}"
    assert await store.enroll(sub, "hash", time.time())
    attempt = await store.begin_attempt(sub, "203.0.113.9", time.time())
    await store.succeed(sub, "203.0.113.9")
    assert attempt.status == "go"
    assert (await store.status(sub)).failures == 0


@pytest.mark.redis_topology
async def test_dashboard_login_limits_and_sessions_run_on_a_cluster(on_cluster: Redis) -> None:
    """The login limiter's script (IP + username pair) and sessions work on a Cluster."""
    settings = DashboardSettings()
    gate = await LoginLimiter(on_cluster, settings, SystemClock()).begin("203.0.113.9", "ana")
    await LoginLimiter(on_cluster, settings, SystemClock()).succeeded("203.0.113.9", "ana")
    sessions = SessionStore(on_cluster, settings, SystemClock())
    token, _ = await sessions.create("ana", "tag")
    assert gate.allowed
    assert (await sessions.load(token)) is not None


async def test_keys_from_before_the_cluster_layout_are_renamed_once(redis_url: str) -> None:
    """Overrides and PIN records under their old names move to the tagged names, once."""
    client: Redis = Redis.from_url(redis_url)
    await client.hset("smsguard:overrides", "abc", "{}")
    await client.xadd("smsguard:overrides:audit", {"e": "{}"})
    await client.hset("smsguard:pin:user:sms|1", "hash", "h")
    await client.xadd("smsguard:pin:audit", {"e": "{}"})
    first = await migrate_legacy_keys(client)
    await client.hset("smsguard:pin:user:sms|2", "hash", "late")  # after the layout is done
    second = await migrate_legacy_keys(client)
    names = sorted(k.decode() for k in await client.keys("smsguard:*"))
    await client.aclose()
    assert (first, second) == (4, 0)
    assert names == sorted(
        [
            LAYOUT_KEY,
            "smsguard:pin:user:sms|2",
            "smsguard:{overrides}",
            "smsguard:{overrides}:audit",
            "smsguard:{pin}:audit",
            "smsguard:{pin}:user:sms|1",
        ]
    )


@pytest.mark.redis_topology
async def test_feedback_writes_run_on_a_cluster(on_cluster: Redis) -> None:
    """A sent code and its completion (one script each, keys in the velocity slot) are stored on
    a Cluster, the script reaching each node by EVAL the first time."""
    store = make_store(on_cluster)
    number = f"+4477009{time.monotonic_ns() % 10**5:05d}"
    await store.record_sent([sent(recipient=number, at=T0)], T0)
    (applied,) = await store.apply([Completion(number, T0 + 5, log_id=f"log-{number}")], T0 + 5)
    assert (applied.status, applied.matched) == ("applied", True)
