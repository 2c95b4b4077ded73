"""The app factory: every stage is built at start-up, in its cleanup context, under its AppKey."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway import appkeys
from gateway.app import create_app
from tests.dashboard.conftest import gateway_settings

Client = TestClient[web.Request, web.Application]

STAGES = {
    "alerts": appkeys.ALERTS,
    "signals": appkeys.SIGNALS,
    "overrides": appkeys.OVERRIDES,
    "router": appkeys.ROUTER,
    "policy": appkeys.POLICY,
    "events": appkeys.EVENTS,
    "pipeline": appkeys.PIPELINE,
    "pin_step": appkeys.PIN_STEP,
    "dashboard": appkeys.DASHBOARD,
}


async def test_stages_exist_only_from_startup(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """No stage key is set by create_app (no placeholders); start-up builds every one."""
    pin = {
        "enabled": True,
        "tenant_domain": "tenant.example",
        "redirect_secret": "s" * 32,
        "argon2_memory_kib": 8192,
        "argon2_time_cost": 1,
    }
    settings = gateway_settings(redis_url, tmp_path / "rules", sections={"pin": pin})
    app = create_app(settings)
    assert [name for name, key in STAGES.items() if key in app] == []
    await aiohttp_client(app)
    assert [name for name, key in STAGES.items() if key not in app] == []
