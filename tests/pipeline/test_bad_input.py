"""POST /sms with bad bodies, encodings and headers: always a 4xx naming the problem, never a
500, and nothing sent (the real app, real Redis, a real HTTP server playing Twilio)."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import zlib
from typing import Any

import pytest

from tests.auth0 import action_payload, auth_headers, gateway_token, legacy_payload
from tests.pipeline.conftest import Fake, MakeGateway


def _raw(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compression_header_over_plain_body_is_400(
    make_gateway: MakeGateway, twilio: Fake, encoding: str
) -> None:
    """Content-Encoding gzip/deflate over a body that is not compressed: 400 naming the header."""
    client = await make_gateway()
    headers = {**auth_headers(), "Content-Encoding": encoding}
    resp = await client.post("/sms", data=_raw(legacy_payload()), headers=headers)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["field"] == "Content-Encoding"
    assert twilio[0].received == []


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
async def test_compressed_body_is_accepted(
    make_gateway: MakeGateway, twilio: Fake, encoding: str, compress: Any
) -> None:
    """A body really compressed as its Content-Encoding says is read and sent."""
    client = await make_gateway()
    headers = {**auth_headers(), "Content-Encoding": encoding}
    resp = await client.post("/sms", data=compress(_raw(action_payload())), headers=headers)
    assert resp.status == 200, await resp.text()
    assert len(twilio[0].received) == 1


async def test_unknown_content_encoding_is_415(make_gateway: MakeGateway, twilio: Fake) -> None:
    """A content coding the gateway cannot decode is refused with 415, not read as JSON."""
    client = await make_gateway()
    headers = {**auth_headers(), "Content-Encoding": "compress"}
    resp = await client.post("/sms", data=_raw(legacy_payload()), headers=headers)
    assert resp.status == 415
    assert (await resp.json())["field"] == "Content-Encoding"
    assert twilio[0].received == []


async def test_huge_integer_is_400(make_gateway: MakeGateway) -> None:
    """A 5,000-digit JSON integer is a 400 naming the body, not a 500."""
    client = await make_gateway()
    body = _raw(legacy_payload())[:-1] + b', "n": ' + b"7" * 5000 + b"}"
    resp = await client.post("/sms", data=body, headers=auth_headers())
    assert resp.status == 400
    assert (await resp.json())["field"] == "body"


async def test_lone_surrogate_is_refused_before_twilio(
    make_gateway: MakeGateway, twilio: Fake
) -> None:
    """A lone surrogate in the SMS text, which Twilio's form could not encode, is a 400 at intake
    naming `body`; nothing reaches the provider."""
    client = await make_gateway()
    payload = {**legacy_payload(), "body": "Your verification code is: 123456 \ud800"}
    resp = await client.post("/sms", data=_raw(payload), headers=auth_headers())
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["field"] == "body"
    assert twilio[0].received == []


async def test_two_authorization_headers_are_400(make_gateway: MakeGateway, twilio: Fake) -> None:
    """Two Authorization headers are ambiguous (a proxy may read the other): 400, not first-wins."""
    client = await make_gateway()
    headers = [
        ("Authorization", f"Bearer {gateway_token()}"),
        ("Authorization", "Bearer forged"),
        ("Content-Type", "application/json"),
    ]
    resp = await client.post("/sms", data=_raw(legacy_payload()), headers=headers)
    assert resp.status == 400
    assert (await resp.json())["field"] == "Authorization"
    assert twilio[0].received == []


async def test_client_request_id_is_not_the_message_id(
    make_gateway: MakeGateway, twilio: Fake
) -> None:
    """Two requests with the same X-Request-Id get distinct message ids (answer, Twilio status
    callback): one cannot overwrite the other's delivery status. The header still names the
    request in the log."""
    client = await make_gateway(server={"public_url": "https://sms.example.com"})
    headers = {**auth_headers(), "X-Request-Id": "same-id"}
    ids = []
    for number in ("+447400123456", "+447400654321"):
        resp = await client.post("/sms", data=_raw(legacy_payload(number)), headers=headers)
        assert resp.status == 200, await resp.text()
        assert resp.headers["X-Request-Id"] == "same-id"
        ids.append((await resp.json())["message_id"])
    assert len(set(ids)) == 2
    assert "same-id" not in ids
    callbacks = [sent.form["StatusCallback"] for sent in twilio[0].received]
    assert [c.rsplit("mid=", 1)[1] for c in callbacks] == ids


async def test_readyz_is_terse_by_default(make_gateway: MakeGateway) -> None:
    """/readyz tells anyone only each check's status, not its detail (versions, errors)."""
    client = await make_gateway()
    body = await (await client.get("/readyz")).json()
    assert body["ready"] is True
    assert body["checks"]["redis"] == {"status": "ok"}
    assert all(set(check) == {"status"} for check in body["checks"].values())


async def test_readyz_details_behind_a_setting(make_gateway: MakeGateway) -> None:
    """With server.readyz_details the checks' details are shown (a private network's choice)."""
    client = await make_gateway(server={"readyz_details": True})
    body = await (await client.get("/readyz")).json()
    assert body["checks"]["redis"] == {"status": "ok", "detail": "PING ok"}


async def test_client_hanging_up_mid_body_is_an_info_line(
    make_gateway: MakeGateway, twilio: Fake, json_logging: io.StringIO
) -> None:
    """A client that disconnects half-way through its body is logged as aborted (499) at info,
    without a traceback, and nothing is sent."""
    client = await make_gateway()
    body = _raw(legacy_payload())
    _, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(
        b"POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {gateway_token()}\r\nContent-Length: 900\r\n\r\n".encode()
        + body[:40]
    )
    await writer.drain()
    writer.close()
    for _ in range(200):  # the server notices the hang-up on its own time
        if '"outcome":"aborted"' in json_logging.getvalue():
            break
        await asyncio.sleep(0.02)
    lines = [json.loads(line) for line in json_logging.getvalue().splitlines()]
    (aborted,) = [line for line in lines if line.get("outcome") == "aborted"]
    assert (aborted["status"], aborted["level"]) == (499, "info")
    assert not [line for line in lines if line["level"] == "error" or "exception" in line]
    assert twilio[0].received == []


@pytest.mark.parametrize(
    ("content_type", "body", "extra"),
    [
        ("multipart/form-data", b"MessageStatus=sent", {}),
        ("application/x-www-form-urlencoded", b"MessageStatus=%ff&AccountSid=\xff", {}),
        ("application/x-www-form-urlencoded; charset=no-such", b"MessageStatus=sent", {}),
        ("application/x-www-form-urlencoded", b"MessageStatus=sent", {"Content-Encoding": "gzip"}),
    ],
)
async def test_malformed_form_is_400(
    make_gateway: MakeGateway, content_type: str, body: bytes, extra: dict[str, str]
) -> None:
    """A form the handler cannot read (Twilio's status callback here; the dashboard and PIN forms
    alike) is a 400 naming what is wrong, not a 500."""
    client = await make_gateway()
    headers = {"Content-Type": content_type, **extra}
    resp = await client.post("/providers/twilio/status", data=body, headers=headers)
    assert resp.status == 400
    assert (await resp.json())["field"] in ("body", "Content-Encoding")
