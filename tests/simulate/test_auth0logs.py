"""Completions as Auth0 reports them: schema-valid log events, in Custom Webhook batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from gateway.simulate.auth0logs import (
    ENDPOINT_ABSENT,
    LOG_STREAM_PATH,
    DeliveryStatus,
    HttpDelivery,
    LogStream,
    iso_date,
    login_event,
)
from gateway.simulate.generate import LEGIT, generate
from tests.simulate.conftest import tiny

REQUEST = next(r for r in generate(tiny(LEGIT)) if r.user_agent)
AT = 1_772_409_661.25


@pytest.fixture
def schemas(shared_dir: Path) -> Path:
    pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the events")
    folder = shared_dir / "auth0-log-schemas" / "schemas" / "log-types"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def validate(event: dict[str, Any], schemas: Path) -> None:
    import jsonschema

    schema = json.loads((schemas / f"{event['type']}.schema.json").read_text())
    jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())


def test_successful_login_event_is_valid_auth0_s(schemas: Path) -> None:
    """A used code becomes an `s` event that Auth0's own schema accepts."""
    validate(login_event(REQUEST, "s", AT, "run"), schemas)


def test_wrong_code_event_is_valid_auth0_f(schemas: Path) -> None:
    """A mistyped code becomes an `f` event that Auth0's own schema accepts."""
    validate(login_event(REQUEST, "f", AT, "run"), schemas)


def test_phone_where_auth0_puts_it() -> None:
    """The phone is in user_name; strategy sms, passwordless; the date is the simulated time."""
    event = login_event(REQUEST, "s", AT, "run")
    assert event["user_name"] == REQUEST.recipient
    assert (event["strategy"], event["strategy_type"]) == ("sms", "passwordless")
    assert event["date"] == iso_date(AT) == "2026-03-02T00:01:01.250Z"


def test_log_ids_stable_and_distinct() -> None:
    """One request's `s` keeps its log id across deliveries; its `f` has another."""
    first = login_event(REQUEST, "s", AT, "run")["log_id"]
    assert first == login_event(REQUEST, "s", AT + 5, "run")["log_id"]
    assert first != login_event(REQUEST, "f", AT, "run")["log_id"]


async def test_batches_wrapped_and_capped() -> None:
    """Records are wrapped as {log_id, data} and delivered at most batch_size at a time."""
    batches: list[list[dict[str, Any]]] = []

    async def deliver(batch: list[dict[str, Any]]) -> DeliveryStatus:
        batches.append(batch)
        return "delivered"

    stream = LogStream(deliver, batch_size=2)
    kinds: tuple[Literal["s", "f"], ...] = ("f", "s", "s")
    for kind in kinds:
        stream.add(login_event(REQUEST, kind, AT, "run"))
        if stream.full:
            await stream.flush()
    await stream.flush()
    assert [len(b) for b in batches] == [2, 1]
    assert all(set(r) == {"log_id", "data"} for b in batches for r in b)
    assert batches[0][0]["log_id"] == batches[0][0]["data"]["log_id"]
    assert (stream.events, stream.delivered, stream.note) == (3, 3, None)


async def test_absent_endpoint_reported_not_raised() -> None:
    """A 404 marks the endpoint absent: nothing more is sent and the note says so."""
    calls: list[int] = []

    async def deliver(batch: list[dict[str, Any]]) -> DeliveryStatus:
        calls.append(len(batch))
        return "absent"

    stream = LogStream(deliver)
    for _ in range(2):
        stream.add(login_event(REQUEST, "s", AT, "run"))
        await stream.flush()
    assert calls == [1]
    assert stream.note == ENDPOINT_ABSENT


async def test_http_delivery_posts_like_a_custom_webhook(aiohttp_server: Any) -> None:
    """The batch is POSTed as a JSON array with the configured Authorization header; the
    endpoint's counts are summed."""
    received: list[tuple[str | None, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"records": 1, "matched": 1})

    app = web.Application()
    app.router.add_post("/" + LOG_STREAM_PATH, receive)
    server = await aiohttp_server(app)
    base = URL(str(server.make_url("/")).rstrip("/"))
    record = {"log_id": "1", "data": login_event(REQUEST, "s", AT, "run")}
    async with aiohttp.ClientSession() as session:
        deliver = HttpDelivery(session, base, "Bearer abc")
        assert await deliver([record]) == "delivered"
        assert deliver.answers == {"records": 1, "matched": 1}
        assert await HttpDelivery(session, base / "elsewhere", "Bearer abc")([record]) == "absent"
    assert received == [("Bearer abc", [record])]
