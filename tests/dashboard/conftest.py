"""A whole gateway (create_app) with the dashboard on, test rules, the sandbox provider, Redis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from gateway.app import create_app
from gateway.appkeys import CLOCK
from gateway.clock import Clock
from gateway.settings import Settings, build_settings
from tests.auth0 import SECRET, auth_headers, gateway_token, legacy_payload

USER = "alice"
PASSWORD = "correct horse battery staple"
# Cheap Argon2id parameters keep the tests fast; production hashes use the library defaults.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)

RULES = """\
rules:
  - id: prefix-burst
    description: burst of codes to one number range (first 8 digits)
    velocity:
      key: phone.prefix:8
      limits: [{max: 3, per: 10m}]
    action: block
  - id: watch-gb
    description: every GB destination (shadow, for the would-have counts)
    conditions: {signal: phone.country, equals: GB}
    action: block
    mode: shadow
default: allow
"""

# UK mobile numbers in one 8-digit range (4477009001..) and some spread over other ranges.
BURST = [f"+4477009001{n:02d}" for n in range(10)]
SPREAD = ["+447400123456", "+447800123456"]


def gateway_settings(
    redis_url: str, rules_dir: Path, *, sections: dict[str, Any] | None = None, **dashboard: Any
) -> Settings:
    """Settings for a test gateway; `sections` adds or replaces top-level sections."""
    rules_dir.mkdir(parents=True, exist_ok=True)
    (rules_dir / "rules.yaml").write_text(RULES)
    return build_settings(
        {
            **(sections or {}),
            "redis": {"url": redis_url},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"path": str(rules_dir), "watch": False},
            "providers": [{"name": "sandbox", "type": "sandbox"}],
            "events": {"flush_interval_ms": 20, **(sections or {}).get("events", {})},
            "prices": {"currency": "USD", "default": 0.05, "per_country": {"GB": 0.04}},
            **({"prices": sections["prices"]} if sections and "prices" in sections else {}),
            "dashboard": {
                "users": [{"username": USER, "password_hash": FAST_HASH}],
                "cookie_secure": False,
                **dashboard,
            },
        },
        environ={},
    )


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return gateway_settings(redis_url, tmp_path / "rules")


Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], settings: Settings
) -> Client:
    return await aiohttp_client(create_app(settings))


class MakeGateway(Protocol):
    def __call__(
        self,
        *,
        clock: Clock | None = None,
        sections: dict[str, Any] | None = None,
        **dashboard: Any,
    ) -> Awaitable[Client]: ...


@pytest.fixture
def make_gateway(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], redis_url: str, tmp_path: Path
) -> MakeGateway:
    """A started gateway with the test settings; `dashboard.*` keys, `sections` and a clock."""

    def make(
        *, clock: Clock | None = None, sections: dict[str, Any] | None = None, **dashboard: Any
    ) -> Awaitable[Client]:
        settings = gateway_settings(redis_url, tmp_path / "rules", sections=sections, **dashboard)
        return aiohttp_client(create_app(settings, clock=clock))

    return make


async def send(client: Client, recipient: str, ip: str = "203.0.113.7") -> int:
    """POST /sms as Auth0 would (its token issued at the gateway's clock); the HTTP status."""
    token = gateway_token(now=client.app[CLOCK].time())
    resp = await client.post(
        "/sms", json=legacy_payload(recipient, ip=ip), headers=auth_headers(token)
    )
    await resp.read()
    return resp.status


async def traffic(client: Client) -> None:
    """A blocked burst (3 sent then 7 blocked by prefix-burst) and two spread messages."""
    for number in BURST:
        await send(client, number, ip="198.51.100.20")
    for number in SPREAD:
        await send(client, number)
    await settle(client)


async def settle(client: Client) -> None:
    """Wait until the event recorder has written everything it holds."""
    from gateway.appkeys import EVENTS
    from gateway.events import EventRecorder

    sink = client.app[EVENTS]
    assert isinstance(sink, EventRecorder)
    for _ in range(500):
        if sink.pending == 0:
            break
        await asyncio.sleep(0.01)
    await sink.flush()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


async def login(client: Client, user: str = USER, password: str = PASSWORD) -> int:
    page = await client.get("/dashboard/login")
    token = csrf_of(await page.text())
    resp = await client.post(
        "/dashboard/login",
        data={"csrf": token, "username": user, "password": password, "next": "/dashboard"},
        allow_redirects=False,
    )
    await resp.read()
    return resp.status
