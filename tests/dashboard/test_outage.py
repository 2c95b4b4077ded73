"""The gateway with its Redis down: messages are still answered, lost events are counted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from gateway.app import create_app
from gateway.appkeys import EVENTS, METRICS
from gateway.redisproc import free_port
from tests.dashboard.conftest import Client, gateway_settings, send


async def test_redis_down_leaves_the_request_path_answering_and_counts_drops(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], tmp_path: Path
) -> None:
    """With Redis unreachable every POST /sms is still answered and events beyond the buffer
    are dropped and counted in smsguard_events_dropped."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = gateway_settings(dead, tmp_path / "rules", sections={"events": {"buffer": 10}})
    client = await aiohttp_client(create_app(settings))
    statuses = [await send(client, f"+4474001234{n:02d}") for n in range(15)]
    assert 500 not in statuses
    sink = client.app[EVENTS]
    assert sink.pending <= 10
    dropped = client.app[METRICS].events_dropped._value.get()
    assert dropped >= 5
    metrics = await (await client.get("/metrics")).text()
    assert f"smsguard_events_dropped_total {dropped}" in metrics


async def test_readyz_reports_failing_event_writes_as_a_warning(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], tmp_path: Path
) -> None:
    """/readyz shows the event log's state; failing writes are a warning, not a failure."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    details = {"server": {"readyz_details": True}}
    client = await aiohttp_client(
        create_app(gateway_settings(dead, tmp_path / "rules", sections=details))
    )
    await send(client, "+447400123456")
    await client.app[EVENTS].flush()
    body = await (await client.get("/readyz")).json()
    assert body["checks"]["events"]["status"] == "warn"
    assert "writes failing" in body["checks"]["events"]["detail"]


async def test_login_with_redis_down_answers_503_not_500(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], tmp_path: Path
) -> None:
    """Without its session store the login answers 503 with a message, and pages stay closed."""
    from tests.dashboard.conftest import login

    dead = f"redis://127.0.0.1:{free_port()}/0"
    client = await aiohttp_client(create_app(gateway_settings(dead, tmp_path / "rules")))
    assert await login(client) == 503
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303
