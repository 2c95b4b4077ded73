"""Velocity fixtures: a client of the session redis-server, a private one to stop or stall."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.redisproc import RedisProcess


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c: Redis = Redis.from_url(redis_url)
    yield c
    await c.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server for this test only (it gets stopped or put to sleep)."""
    server = RedisProcess(
        tmp_path / "redis", appendonly=False, extra=["--enable-debug-command", "yes"]
    )
    with server:
        yield server
