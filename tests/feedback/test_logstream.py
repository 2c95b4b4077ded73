"""POST /v1/auth0/log-stream: Auth0's Custom Webhook batches, as Auth0 sends them."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from gateway.feedback.keys import PREFIX
from gateway.feedback.store import FeedbackStore
from tests.feedback.conftest import AUTHORIZATION
from tests.feedback.helpers import RECIPIENT, T0, log_event, sent, wrapped

COMPLETIONS = ("s", "ss", "sepft")
FAILURES = ("f", "fp", "fcoa", "fepft", "fepotpft")
IGNORED = ("cs", "cls", "slo", "limit_phone", "fn")


async def post(
    server: TestServer,
    body: bytes | str,
    authorization: str | None = AUTHORIZATION,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1/auth0/log-stream"), data=body, headers=headers) as resp,
    ):
        text = await resp.text()
        return resp.status, json.loads(text) if text.startswith("{") else text


def as_array(records: list[dict[str, Any]]) -> str:
    return json.dumps(records)


def as_lines(records: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"


async def snapshot(redis: Redis) -> dict[bytes, bytes | None]:
    """Every feedback key with its serialized value (one pipeline)."""
    keys = sorted(await redis.keys(PREFIX + "*"))
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
    return dict(zip(keys, await pipe.execute(), strict=True))


async def test_a_login_completes_the_code_sent_to_that_number(
    gateway: TestServer, store: FeedbackStore
) -> None:
    """A wrapped `s` event for an SMS user completes the open code and marks the recipient."""
    await store.record_sent([sent()], T0)
    status, body = await post(gateway, as_array([wrapped(log_event("s", "L1"))]))
    assert status == 200
    assert body == {"records": 1, "accepted": 1, "duplicates": 0, "ignored": 0, "matched": 1}
    view = await store.read(RECIPIENT, {"cc": "GB"}, T0 + 60)
    assert view.verified_at == int(T0 + 30)
    assert view.counts[("cc", "1h")].completed == 1


async def test_json_lines_and_bare_events_are_accepted(
    gateway: TestServer, store: FeedbackStore
) -> None:
    """JSON lines of bare events (the Management API's shape) are read like wrapped ones."""
    await store.record_sent([sent()], T0)
    status, body = await post(gateway, as_lines([log_event("s", "L1"), log_event("cs", "L2")]))
    assert status == 200
    assert (body["accepted"], body["ignored"], body["matched"]) == (1, 1, 1)


async def test_a_json_object_delivery_is_one_record(gateway: TestServer) -> None:
    """The JSONOBJECT format: one wrapped record as the whole body."""
    status, body = await post(gateway, json.dumps(wrapped(log_event("s", "L1"))))
    assert status == 200
    assert body["accepted"] == 1


async def test_other_strategies_and_types_are_ignored(gateway: TestServer) -> None:
    """A database login, an email passwordless login and a code-sent event change nothing."""
    records = [
        wrapped(log_event("s", "L1", strategy="auth0")),
        wrapped(log_event("s", "L2", phone="someone@example.com", strategy="email")),
        wrapped(log_event("cs", "L3")),
    ]
    status, body = await post(gateway, as_array(records))
    assert status == 200
    assert (body["accepted"], body["ignored"]) == (0, 3)


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, "missing"),
        ("", "empty"),
        ("Bearer wrong", "wrong"),
        (AUTHORIZATION + "x", "longer"),
        (AUTHORIZATION[:-1], "shorter"),
        (AUTHORIZATION.lower(), "other case"),
    ],
)
async def test_wrong_authorization_is_401_and_stores_nothing(
    gateway: TestServer, redis: Redis, authorization: str | None, why: str
) -> None:
    """Anything but the exact configured Authorization value: 401, nothing stored."""
    status, _ = await post(gateway, as_array([wrapped(log_event("s", "L1"))]), authorization)
    assert status == 401, why
    assert await redis.keys(PREFIX + "*") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "body"),
        ("{not json", "body"),
        ('{"log_id": "L1", "data": {"type": "s"}}\n{oops', "body"),
        ("42", "body"),
        ('["just a string"]', "records[0]"),
        ('[{"log_id": "L1", "data": []}]', "records[0].data"),
        ('[{"log_id": "L1", "data": {"date": "x"}}]', "records[0].data.type"),
        ('[{"log_id": 7, "data": {"type": "cs"}}]', "records[0].log_id"),
    ],
)
async def test_malformed_bodies_are_400_naming_where(
    gateway: TestServer, redis: Redis, body: str, field: str
) -> None:
    """Bad input: 400 with the record index and field, nothing stored."""
    status, answer = await post(gateway, body)
    assert status == 400
    assert answer["field"] == field
    assert await redis.keys(PREFIX + "*") == []


async def test_one_bad_record_rejects_the_batch(gateway: TestServer, redis: Redis) -> None:
    """A malformed date in the 3rd record: 400 naming it, and the good records are not applied."""
    bad = log_event("s", "L3")
    bad["date"] = "yesterday"
    records = [wrapped(log_event("s", "L1")), wrapped(log_event("fp", "L2")), wrapped(bad)]
    status, answer = await post(gateway, as_array(records))
    assert (status, answer["field"]) == (400, "records[2].data.date")
    assert await redis.keys(PREFIX + "*") == []


async def test_a_body_over_the_limit_is_413(gateway: TestServer) -> None:
    """The endpoint's own limit (here 4 MiB) applies, not /sms's 8 KiB."""
    records = [wrapped(log_event("cs", f"L{i}")) for i in range(40)]
    assert len(as_array(records)) > 8192
    status, _ = await post(gateway, as_array(records))
    assert status == 200
    status, _ = await post(gateway, "[" + " " * (4 * 1024 * 1024) + "]")
    assert status == 413


async def test_hostile_bodies_never_get_a_5xx(gateway: TestServer) -> None:
    """Deep nesting, binary, odd encodings and odd shapes: always a 4xx or a 200, never 5xx."""
    bodies: list[bytes | str] = [
        "[" * 100_000 + "]" * 100_000,
        b"\xff\xfe\x00garbage",
        '{"a": {"b": 1}}',
        '[{"data": {"type": "s", "strategy": 5}}]',
        '[{"data": {"type": "s", "strategy": "sms", "user_name": ["+447700900123"]}}]',
        '[{"data": {"type": "s", "strategy": "sms", "user_name": "+447700900123"}}]',
        '[{"log_id": "' + "x" * 500 + '", "data": {"type": "s"}}]',
        "null",
        '{"0": {"log_id": "a", "data": {"type": "cs"}}}',
        "\n\n\n",
    ]
    for body in bodies:
        status, _ = await post(gateway, body)
        assert status < 500, body[:40]


def _schema_validators(shared: Path) -> dict[str, Any]:
    import jsonschema  # type: ignore[import-untyped]

    folder = shared / "auth0-log-schemas" / "schemas" / "log-types"
    return {
        kind: jsonschema.Draft7Validator(json.loads((folder / f"{kind}.schema.json").read_text()))
        for kind in (*COMPLETIONS, *FAILURES, *IGNORED)
    }


def build_traffic(n: int, rng: random.Random) -> tuple[list[dict[str, Any]], Counter[str]]:
    """n log events: SMS completions and failures for distinct numbers, and ignored types."""
    events: list[dict[str, Any]] = []
    expected: Counter[str] = Counter()
    for i in range(n):
        phone = f"+4477009{i:05d}"
        roll = rng.random()
        if roll < 0.4:
            kind, outcome = rng.choice(COMPLETIONS), "completion"
        elif roll < 0.6:
            kind, outcome = rng.choice(FAILURES), "failure"
        else:
            kind, outcome = rng.choice(IGNORED), "ignored"
        strategy = None if kind in ("sepft", "fepft", "fepotpft") else "sms"
        at = T0 + 60 + i % 600
        events.append(log_event(kind, f"9002026{i:08d}", phone, at, strategy=strategy))
        expected[outcome] += 1
    return events, expected


@pytest.mark.shared
async def test_ten_thousand_events_in_batches_land_once(
    gateway: TestServer, store: FeedbackStore, redis: Redis, shared_dir: Path
) -> None:
    """10,000 schema-valid events in Auth0's formats: each completion lands once; redelivery
    changes nothing; nothing gets a 5xx."""
    rng = random.Random(10)
    events, expected = build_traffic(10_000, rng)
    validators = _schema_validators(shared_dir)
    for event in events:
        errors = list(validators[event["type"]].iter_errors(event))
        assert not errors, (event["type"], errors[0].message)
    # Every number was sent a code first (from the gateway's own point of view).
    await store.record_sent(
        [sent(i, recipient=e["user_name"], at=T0) for i, e in enumerate(events)], T0
    )
    records = [wrapped(e) if i % 3 else e for i, e in enumerate(events)]  # both envelopes

    async def deliver() -> Counter[str]:
        totals: Counter[str] = Counter()
        start = 0
        while start < len(records):
            size = rng.choice((1, 50, 100, 250))
            chunk = records[start : start + size]
            start += size
            body = as_lines(chunk) if size % 2 else as_array(chunk)
            if size == 1:
                body = json.dumps(chunk[0])  # JSONOBJECT
            status, answer = await post(gateway, body)
            assert status == 200, answer
            totals.update({k: v for k, v in answer.items() if k != "records"})
        return totals

    first = await deliver()
    assert first["accepted"] == expected["completion"] + expected["failure"]
    assert first["ignored"] == expected["ignored"]
    assert first["duplicates"] == 0
    assert first["matched"] == expected["completion"] + expected["failure"]
    view = await store.read(RECIPIENT, {"cc": "GB"}, T0 + 700)
    assert view.counts[("cc", "1h")].completed == expected["completion"]
    assert view.counts[("cc", "1h")].failed == expected["failure"]
    assert view.counts[("cc", "1h")].sent == 10_000

    before = await snapshot(redis)
    again = await deliver()
    assert again["duplicates"] == first["accepted"]
    assert again["accepted"] == 0
    assert await snapshot(redis) == before


async def test_a_bad_record_deep_in_a_big_batch_is_named_by_its_index(gateway: TestServer) -> None:
    """Big deliveries are read in chunks; the error still names the record's index in the body."""
    records = [wrapped(log_event("cs", f"L{i}")) for i in range(1200)]
    records[1100]["data"]["type"] = 5
    status, answer = await post(gateway, as_array(records))
    assert (status, answer["field"]) == (400, "records[1100].data.type")
