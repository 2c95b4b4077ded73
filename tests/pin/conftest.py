"""Fixtures for the PIN step: a fake Auth0 tenant and the real gateway configured against it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.settings import build_settings
from tests.pin.fake_auth0 import AUDIENCE, SHARED_SECRET, TENANT, FakeAuth0, ec_pem

Client = TestClient[web.Request, web.Application]
MakeGateway = Callable[..., Awaitable[Client]]


@pytest.fixture
def clock() -> FakeClock:
    """One clock for the gateway and the fake tenant (FakeClock starts at a real-looking time)."""
    return FakeClock()


@pytest.fixture
async def auth0(aiohttp_server: Any, clock: FakeClock) -> tuple[FakeAuth0, TestServer]:
    fake = FakeAuth0(clock)
    return fake, await aiohttp_server(fake.app())


def pin_section(server: TestServer, **overrides: Any) -> dict[str, Any]:
    """PIN settings pointing at the fake tenant, with cheap Argon2 parameters for tests."""
    base = str(server.make_url("")).rstrip("/")
    return {
        "enabled": True,
        "tenant_domain": TENANT,
        "redirect_secret": SHARED_SECRET,
        "continue_url": f"{base}/continue",
        "api_audience": AUDIENCE,
        "jwks_url": f"{base}/.well-known/jwks.json",
        "signing_keys": [{"kid": "step-1", "private_key": ec_pem()}],
        "argon2_memory_kib": 8192,
        "argon2_time_cost": 1,
        "delay_base_s": 0,
        **overrides,
    }


@pytest.fixture
def make_gateway(
    aiohttp_client: Any, redis_url: str, auth0: tuple[FakeAuth0, TestServer], clock: FakeClock
) -> MakeGateway:
    """The real app with the PIN step on, against the fake tenant; keyword args override pin.*."""

    async def make(*, sections: dict[str, Any] | None = None, **pin: Any) -> Client:
        data: dict[str, Any] = {
            "redis": {"url": redis_url},
            "rules": {"watch": False},
            "pin": pin_section(auth0[1], **pin),
            **(sections or {}),
        }
        settings = build_settings(data, environ={})
        client: Client = await aiohttp_client(create_app(settings, clock=clock))
        return client

    return make
