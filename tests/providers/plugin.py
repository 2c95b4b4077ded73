"""The fake-provider fixtures as a pytest plugin, usable outside tests/providers.

    # tests/conftest.py (the root conftest: pytest_plugins is only allowed there)
    pytest_plugins = ["tests.providers.plugin"]

    async def test_x(fake_api: StartFake) -> None:
        twilio, base_url = await fake_api(TWILIO_PATH, [TWILIO_CREATED], spec=TWILIO_SPEC)

tests/providers/conftest.py imports the same fixtures, so the provider tests work either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pytest_aiohttp import AiohttpServer

from tests.providers.fakes import TWILIO_SPEC, VONAGE_SPEC, FakeApi, Reply, load_spec

StartFake = Callable[..., Awaitable[tuple[FakeApi, str]]]


@pytest.fixture(scope="session")
def provider_specs() -> None:
    """Parse the providers' OpenAPI specs once per session, before any test's timed part."""
    for name in (TWILIO_SPEC, VONAGE_SPEC):
        load_spec(name)


@pytest.fixture
async def fake_api(aiohttp_server: AiohttpServer, provider_specs: None) -> AsyncIterator[StartFake]:
    """Start a FakeApi: `fake, base_url = await fake_api(path, [Reply(...)], spec=...)`.

    Requests are checked against the spec after the test (at teardown), never while answering;
    a request the provider's published API would refuse fails the test there.
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
