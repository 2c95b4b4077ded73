"""Fixtures for the provider tests: an HTTP session, fresh metrics, fake provider servers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.metrics import Metrics
from tests.providers.plugin import StartFake, fake_api, provider_specs

__all__ = ["StartFake", "fake_api", "metrics", "provider_specs", "refused_url", "session"]


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
