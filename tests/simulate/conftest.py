"""A real gateway (sandbox provider, real Redis, a small rule set) served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from yarl import URL

from gateway.app import create_app
from gateway.settings import build_settings
from tests.auth0 import SECRET

RULES = """\
rules:
  - id: block-revenue-share
    description: premium-rate or shared-cost number
    conditions: {signal: phone.type, in: [PREMIUM_RATE, SHARED_COST]}
    action: block
  - id: drop-repeat
    description: one code per number per hour, the rest dropped
    velocity:
      key: recipient
      limits: [{max: 1, per: 1h}]
    action: drop
default: allow
"""

StartGateway = Callable[..., Awaitable[URL]]


@pytest.fixture
def start_gateway(aiohttp_server: Any, redis_url: str, tmp_path: Path) -> StartGateway:
    """Start the real gateway app on 127.0.0.1 and a free port; returns its base URL."""

    async def start(*, expose_sandbox: bool = True) -> URL:
        rules = tmp_path / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "rules.yaml").write_text(RULES)
        settings = build_settings(
            {
                # A dev gateway: /readyz details name the rule set in the report.
                "server": {"readyz_details": True},
                "redis": {"url": redis_url},
                "auth0": {"gateway_secret": SECRET},
                "rules": {"path": str(rules), "watch": False},
                "providers": [
                    {"name": "sandbox", "type": "sandbox", "expose": expose_sandbox, "keep": 1000}
                ],
            },
            environ={},
        )
        server: TestServer = await aiohttp_server(create_app(settings), host="127.0.0.1")
        url = URL(str(server.make_url("/")).rstrip("/"))
        # Up and answering before the test starts (an app closed before it settled can hang in
        # the overrides listener's cleanup: see the report on gateway/overrides.py).
        async with aiohttp.ClientSession() as client, client.get(url / "readyz") as resp:
            assert resp.status == 200, await resp.text()
        return url

    return start


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
