"""Fixtures for the provider tests: an HTTP session, fresh metrics, fake provider servers, and a
small app holding only what providers.setup() needs (`make_client`)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway import providers
from gateway.appkeys import CLOCK, HTTP, METRICS, READINESS, REDIS, SETTINGS
from gateway.clock import FakeClock
from gateway.health import Readiness
from gateway.metrics import Metrics
from gateway.settings import Settings
from tests.providers.plugin import StartFake, fake_api, provider_specs

__all__ = [
    "StartFake",
    "fake_api",
    "make_client",
    "metrics",
    "provider_specs",
    "refused_url",
    "session",
]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[Settings], Awaitable[Client]]


def app_for(settings: Settings, redis_url: str) -> web.Application:
    """Only what providers.setup() needs: settings, clock, metrics, readiness, HTTP, Redis."""
    app = web.Application()
    app[SETTINGS] = settings
    app[CLOCK] = FakeClock()
    app[METRICS] = Metrics()
    app[READINESS] = Readiness()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[HTTP] = session
            app[REDIS] = Redis.from_url(redis_url)
            yield
            await app[REDIS].aclose()

    app.cleanup_ctx.append(resources)
    providers.setup(app)
    return app


@pytest.fixture
def make_client(aiohttp_client: Any, redis_url: str) -> MakeClient:
    """A client of the small providers app, on a real Redis."""

    async def make(settings: Settings) -> Client:
        client: Client = await aiohttp_client(app_for(settings, redis_url))
        return client

    return make
