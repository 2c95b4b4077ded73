"""A real gateway (create_app) on the test Redis, with the log stream and the Action endpoint on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.feedback.store import FeedbackStore
from gateway.settings import build_settings
from tests.feedback.helpers import T0, make_store

AUTHORIZATION = "Bearer log-stream-token-1"
GATEWAY_SECRET = "gateway-secret-for-tests-0123456789"


@pytest.fixture
def store(redis: Redis) -> FeedbackStore:
    """A store with the gateway's counter secret: it reads and writes the gateway's keys."""
    return make_store(redis)


@pytest.fixture
async def gateway(aiohttp_server: Any, redis_url: str, tmp_path: Path) -> TestServer:
    """The whole gateway: allow-all rules, sandbox provider, feedback endpoints enabled."""
    (tmp_path / "allow.yaml").write_text("rules: []\ndefault: allow\n")
    settings = build_settings(
        {
            "redis": {"url": redis_url},
            "auth0": {"gateway_secret": GATEWAY_SECRET},
            "rules": {"path": str(tmp_path), "watch": False, "counter_hash_key": "test-secret"},
            "providers": [{"name": "sandbox", "type": "sandbox", "expose": True}],
            "feedback": {
                "log_stream": {"authorization": AUTHORIZATION, "max_body_bytes": 4 * 1024 * 1024},
                "flush_interval_ms": 10,
            },
        },
        environ={},
    )
    # The gateway's clock is the tests' T0 (a minute on): dates and buckets are exact.
    server: TestServer = await aiohttp_server(create_app(settings, clock=FakeClock(T0 + 60)))
    return server
