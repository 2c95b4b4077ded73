"""/readyz after Redis restarts: every probe answers 200 once Redis answers again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.redisproc import RedisProcess
from gateway.settings import build_settings
from tests.auth0 import SECRET

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server for this test only (it gets restarted)."""
    with RedisProcess(tmp_path / "redis", appendonly=False) as server:
        yield server


async def probes(client: Client, n: int) -> list[int]:
    replies = await asyncio.gather(*(client.get("/readyz") for _ in range(n)))
    return [r.status for r in replies]


async def test_every_readiness_probe_passes_after_a_redis_restart(
    aiohttp_client: Any, own_redis: RedisProcess
) -> None:
    """Redis restarted under a warm pool: 50 simultaneous /readyz all answer 200."""
    settings = build_settings(
        {
            "redis": {"url": own_redis.url},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"watch": False},
        },
        environ={},
    )
    client: Client = await aiohttp_client(create_app(settings))
    assert set(await probes(client, 50)) == {200}  # the pool now holds many connections
    own_redis.stop()
    own_redis.start()  # same port; every pooled connection is now dead
    probe: Redis = Redis.from_url(own_redis.url)
    assert await probe.ping()
    await probe.aclose()
    statuses = await probes(client, 50)
    assert statuses.count(200) == 50, statuses
