"""Two gateway instances on one Redis: a block made on one dashboard applies on the other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from gateway.app import create_app
from gateway.appkeys import OVERRIDES
from tests.dashboard.conftest import Client, csrf_of, gateway_settings, login, send


async def test_block_on_one_instance_refuses_on_another(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], redis_url: str, tmp_path: Path
) -> None:
    """An IP blocked through instance A's dashboard is refused by instance B's POST /sms."""
    a = await aiohttp_client(create_app(gateway_settings(redis_url, tmp_path / "a")))
    b = await aiohttp_client(create_app(gateway_settings(redis_url, tmp_path / "b")))
    assert await send(b, "+447400123456", ip="192.0.2.10") == 200
    await login(a)
    page = await (await a.get("/dashboard/actions")).text()
    await a.post(
        "/dashboard/actions/overrides",
        data={
            "csrf": csrf_of(page),
            "kind": "cidr",
            "value": "192.0.2.0/24",
            "action": "block",
            "reason": "pumping",
        },
    )
    overrides = b.app[OVERRIDES]
    for _ in range(500):  # pub/sub delivery to B: a round trip, not a timer
        if overrides.active():
            break
        await asyncio.sleep(0.01)
    assert await send(b, "+447800123456", ip="192.0.2.11") == 403


async def test_expired_block_stops_refusing_on_every_instance(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], redis_url: str, tmp_path: Path
) -> None:
    """An override past its expiry no longer refuses requests."""
    from gateway.clock import FakeClock

    clock = FakeClock(start=1_800_000_000.0)
    app = create_app(gateway_settings(redis_url, tmp_path / "a"), clock=clock)
    client = await aiohttp_client(app)
    await client.app[OVERRIDES].add(
        "ip", "192.0.2.10", "block", reason="r", author="t", expires_in_s=900
    )
    assert await send(client, "+447400123456", ip="192.0.2.10") == 403
    clock.advance(901)
    assert await send(client, "+447400123457", ip="192.0.2.10") == 200
