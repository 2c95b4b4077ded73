"""The real gateway for the message-path tests: Twilio then Vonage as providers, each a real HTTP
server checking requests against the provider's OpenAPI specification, and a real Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.settings import build_settings
from tests.auth0 import SECRET
from tests.providers.fakes import (
    TWILIO_CREATED,
    TWILIO_PATH,
    TWILIO_SID,
    TWILIO_SPEC,
    TWILIO_TOKEN,
    VONAGE_PATH,
    VONAGE_SENT,
    VONAGE_SPEC,
    FakeApi,
)
from tests.providers.plugin import StartFake

Client = TestClient[web.Request, web.Application]
MakeGateway = Callable[..., Awaitable[Client]]


Fake = tuple[FakeApi, str]


@pytest.fixture
async def twilio(fake_api: StartFake) -> Fake:
    return await fake_api(TWILIO_PATH, [TWILIO_CREATED], spec=TWILIO_SPEC)


@pytest.fixture
async def vonage(fake_api: StartFake) -> Fake:
    return await fake_api(VONAGE_PATH, [VONAGE_SENT], spec=VONAGE_SPEC)


@pytest.fixture
def make_gateway(
    aiohttp_client: Any,
    redis_url: str,
    twilio: Fake,
    vonage: Fake,
    tmp_path: Any,
) -> MakeGateway:
    """Build the real app with Twilio then Vonage as providers, on the shipped defaults."""

    async def make(**sections: Any) -> Client:
        data: dict[str, Any] = {
            "redis": {"url": redis_url},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"watch": False},
            "providers": [
                {
                    "name": "twilio-main",
                    "type": "twilio",
                    "account_sid": TWILIO_SID,
                    "auth_token": TWILIO_TOKEN,
                    "from": "+15005550006",
                    "base_url": twilio[1],
                    "read_timeout_s": 0.5,
                    "max_attempts": 1,
                },
                {
                    "name": "vonage-backup",
                    "type": "vonage",
                    "api_key": "abcd1234",
                    "api_secret": "Abcdef0123456789",
                    "from": "Acme",
                    "base_url": vonage[1],
                    "max_attempts": 1,
                },
            ],
            "routes": {"default": ["twilio-main", "vonage-backup"]},
            **sections,
        }
        settings = build_settings(data, environ={})
        client: Client = await aiohttp_client(create_app(settings))
        return client

    return make
