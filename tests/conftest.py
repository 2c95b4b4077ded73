"""Shared fixtures: a real redis-server per test session, a clean database per test."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from redis.asyncio import Redis

from gateway.logs import configure_logging
from gateway.redisproc import RedisProcess

# Real HTTP servers playing Twilio and Vonage (requests checked against their OpenAPI specs).
pytest_plugins = ["tests.providers.plugin"]

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One real redis-server for the whole session, on a free loopback port."""
    with RedisProcess(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def redis_url(redis_server: RedisProcess) -> str:
    """The session server's URL, with its database emptied before each test."""
    client: Redis = Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the emptied test database, closed after the test."""
    client: Redis = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the project; tests that need it skip with a reason when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (shared test oracles are not in this checkout)")
    return SHARED


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """Configure logging as `serve` does, into a buffer; put the test defaults back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("info", "json", stream=out, cache=False)
    yield out
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
