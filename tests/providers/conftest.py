"""Fixtures for the provider tests: an HTTP session, fresh metrics, fake provider servers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from gateway.metrics import Metrics
from tests.providers.fakes import TWILIO_SPEC, VONAGE_SPEC, FakeApi, Reply, load_spec

StartFake = Callable[..., Awaitable[tuple[FakeApi, str]]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture(scope="session")
def provider_specs() -> None:
    """Parse the providers' OpenAPI specs once per session, before any test's timed part."""
    for name in (TWILIO_SPEC, VONAGE_SPEC):
        load_spec(name)


@pytest.fixture
async def fake_api(aiohttp_server: AiohttpServer, provider_specs: None) -> AsyncIterator[StartFake]:
    """Start a FakeApi: `fake, base_url = await fake_api(path, [Reply(...)], spec=...)`.

    Requests are checked against the spec after the test (at teardown), never while answering.
    """
    fakes: list[FakeApi] = []

    async def start(
        path: str, replies: list[Reply], spec: str | None = None
    ) -> tuple[FakeApi, str]:
        fake = FakeApi(path, replies, spec)
        server = await aiohttp_server(fake.app)
        fakes.append(fake)
        return fake, str(server.make_url("")).rstrip("/")

    yield start
    for fake in fakes:
        fake.release()
    problems = [p for fake in fakes for p in fake.spec_errors()]
    assert not problems, "requests not valid against the provider's OpenAPI spec:\n" + "\n".join(
        problems
    )


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
