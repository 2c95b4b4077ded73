"""The start-up check of the Redis holding PIN records: persistence and noeviction, loudly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from gateway.pin import PIN_STEP
from gateway.pin.storage import check_storage
from gateway.redisproc import RedisProcess
from tests.pin.conftest import MakeGateway


@pytest.fixture(scope="module")
def volatile_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A real redis-server with neither AOF nor RDB (`--save ""` is RedisProcess's default)."""
    with RedisProcess(tmp_path_factory.mktemp("volatile"), appendonly=False) as server:
        yield server


@pytest.fixture(scope="module")
def no_config_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A redis-server with CONFIG disabled, like many managed services, and no AOF."""
    with RedisProcess(
        tmp_path_factory.mktemp("noconfig"),
        appendonly=False,
        extra=["--rename-command", "CONFIG", ""],
    ) as server:
        yield server


async def report_for(url: str) -> Any:
    client: Redis = Redis.from_url(url)
    try:
        return await check_storage(client)
    finally:
        await client.aclose()


async def test_aof_with_noeviction_is_safe(redis_url: str) -> None:
    """The test suite's Redis (AOF on, noeviction) passes the check."""
    report = await report_for(redis_url)
    assert (report.persistence, report.eviction, report.safe) == ("aof", "noeviction", True)


async def test_no_persistence_is_unsafe(volatile_redis: RedisProcess) -> None:
    """A Redis without AOF or RDB is reported as persistence none."""
    report = await report_for(volatile_redis.url)
    assert (report.persistence, report.safe) == ("none", False)
    assert "no persistence" in report.detail()


async def test_evicting_redis_is_unsafe(redis_url: str) -> None:
    """maxmemory-policy allkeys-lru is reported: keys (locks!) may vanish."""
    client: Redis = Redis.from_url(redis_url)
    await client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        report = await check_storage(client)
    finally:
        await client.config_set("maxmemory-policy", "noeviction")
        await client.aclose()
    assert not report.safe
    assert "allkeys-lru" in report.detail()


async def test_disabled_config_falls_back_to_info(no_config_redis: RedisProcess) -> None:
    """Without CONFIG, eviction comes from INFO and unconfirmable persistence is "unknown"."""
    report = await report_for(no_config_redis.url)
    assert (report.persistence, report.eviction, report.safe) == ("unknown", "noeviction", False)


async def test_unsafe_pin_redis_is_reported_loudly(
    make_gateway: MakeGateway, volatile_redis: RedisProcess
) -> None:
    """pin.redis_url on a volatile Redis: warning log, /readyz warn detail, metric = 1."""
    with capture_logs() as logs:
        client = await make_gateway(
            redis_url=volatile_redis.url, sections={"server": {"readyz_details": True}}
        )
    assert any(e["event"] == "pin storage unsafe" and e["log_level"] == "warning" for e in logs)
    ready = await (await client.get("/readyz")).json()
    check = ready["checks"]["pin-storage"]
    assert check["status"] == "warn"
    assert "no persistence" in check["detail"]
    metrics = await (await client.get("/metrics")).text()
    assert 'smsguard_storage_unsafe{store="pin"} 1.0' in metrics


async def test_safe_pin_redis_reports_ok(make_gateway: MakeGateway) -> None:
    """On the shared, persistent Redis the readiness check is ok and the metric 0."""
    client = await make_gateway()
    ready = await (await client.get("/readyz")).json()
    assert ready["checks"]["pin-storage"]["status"] == "ok"
    metrics = await (await client.get("/metrics")).text()
    assert 'smsguard_storage_unsafe{store="pin"} 0.0' in metrics


async def test_pin_records_go_to_the_separate_redis(
    make_gateway: MakeGateway, volatile_redis: RedisProcess, redis_url: str
) -> None:
    """With pin.redis_url set, PIN records are written there and not to the shared Redis."""
    client = await make_gateway(redis_url=volatile_redis.url)
    store = client.app[PIN_STEP].service.store
    await store.enroll("sms|separate", "hash-placeholder", 0.0)
    shared: Redis = Redis.from_url(redis_url)
    separate: Redis = Redis.from_url(volatile_redis.url)
    try:
        assert await separate.exists("smsguard:{pin}:user:sms|separate") == 1
        assert await shared.exists("smsguard:{pin}:user:sms|separate") == 0
    finally:
        await separate.delete("smsguard:{pin}:user:sms|separate")
        await shared.aclose()
        await separate.aclose()
