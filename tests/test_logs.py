"""Logs: phone numbers never appear whole, whatever path the text takes into a log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest
from aiohttp import web

from gateway.logs import MalformedHttpFilter, get_logger, mask_phone, mask_phones_in, scrub_text
from tests.auth0 import gateway_token


def test_mask_keeps_country_code_and_last_three() -> None:
    """The masked form shows the first two digits and the last three."""
    assert mask_phone("+447400123456") == "+44*******456"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to +447400123456 now", "to +44*******456 now"),
        ("Vonage: 447400123456 invalid", "Vonage: +44*******456 invalid"),
        ("+44 7400 123456", "+44*******456"),
        ("sent to 447400123456.", "sent to +44*******456."),
        ("+447400123456: invalid", "+44*******456: invalid"),
        ("to=+447400123456/x", "to=+44*******456/x"),
        ("To=%2B447400123456&Body=x", "To=+44*******456&Body=x"),
        ("447400123456: invalid", "+44*******456: invalid"),
    ],
)
def test_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    """With or without +, with spaces, at the end of a sentence: masked."""
    assert mask_phones_in(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "ip 203.0.113.7",
        "2026-11-22T11:36:37Z",
        "id c44b88c00a16417599bbae456b959d0d",
        "AS64500",
        "latency 12345678ms",
        "v1.447400123456",
    ],
)
def test_other_digits_are_left_alone(text: str) -> None:
    """IPs, times, hex ids, ASNs and numbers glued to units are not phone numbers."""
    assert mask_phones_in(text) == text


def test_log_lines_mask_nested_values_and_exceptions(json_logging: io.StringIO) -> None:
    """Nested fields, exception text and stdlib (aiohttp) error logs are all masked."""
    log = get_logger("test")
    log.info("with fields", shadow=["rule-a", "+447400123456"], detail={"to": "447400123456"})
    try:
        raise ValueError("provider refused 447400123456")
    except ValueError:
        log.exception("structlog error")
        logging.getLogger("aiohttp.server").exception("Error handling request")
    lines = [json.loads(line) for line in json_logging.getvalue().splitlines() if line]
    assert len(lines) == 3
    text = json.dumps(lines)
    assert "447400123456" not in text
    assert "+44*******456" in lines[0]["shadow"]
    assert "+44*******456" in lines[2]["exception"]


TOKEN = gateway_token()


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (f"Invalid header value char: b'Authorization: Bearer {TOKEN}\\x01'", "Bearer [redacted]"),
        (f"token={TOKEN}&x=1", "token=[redacted]&x=1"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Basic [redacted]"),
        ('{"body": "Your verification code is: 123456", "x": 1}', '{"body": "[redacted]", "x": 1}'),
        ('b\'{"recipient": "+1", "body": "Your verification co', '"body": "[redacted]'),
        ("{'body': 'Your verification code is: 123456'}", "{'body': '[redacted]'}"),
        ("To=%2B447400123456&Body=Your+code+is+123456&From=Acme", "Body=[redacted]&From"),
    ],
)
def test_secrets_and_message_text_are_redacted(text: str, scrubbed: str) -> None:
    """Bearer/basic credentials, JWTs and SMS text are redacted wherever they appear in text."""
    out = scrub_text(text)
    assert scrubbed in out
    assert TOKEN.split(".")[2] not in out
    assert "123456" not in out


def test_secrets_redacted_in_every_field_of_every_line(json_logging: io.StringIO) -> None:
    """A token in any field (even the request id) or in a stdlib record's text is redacted."""
    get_logger("test").info("request", request_id=TOKEN, detail={"auth": f"Bearer {TOKEN}"})
    logging.getLogger("redis").warning("cannot send %s", f"Authorization: Bearer {TOKEN}")
    text = json_logging.getvalue()
    assert len(text.splitlines()) == 2
    assert TOKEN.split(".")[1] not in text
    assert "[redacted]" in text


async def _send_raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


MALFORMED = [
    # A control character in a header value: aiohttp quotes the whole header line.
    b"POST /sms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\x01\r\n"
    b"Content-Length: 2\r\n\r\n{}",
    # A bad chunk size followed by an SMS body: aiohttp quotes the bytes around the error.
    b"POST /sms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'zz {"recipient": "+447400123456", "body": "Your verification code is: 123456"}\r\n',
    # A space before the colon of the Authorization header.
    b"POST /sms HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer " + TOKEN.encode() + b"\r\n\r\n",
]


async def test_malformed_http_logged_at_info_without_bytes(
    json_logging: io.StringIO, aiohttp_server: Any
) -> None:
    """Real malformed requests on a socket: aiohttp's parser errors become info lines naming the
    problem, with no traceback and none of the quoted bytes (token, code, number)."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/sms", ok)
    server = await aiohttp_server(app)
    for data in MALFORMED:
        assert (
            (await _send_raw(server.port, data)).split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
        )
    lines = [json.loads(line) for line in json_logging.getvalue().splitlines()]
    refused = [line for line in lines if "malformed HTTP request" in line["event"]]
    assert len(refused) == len(MALFORMED)
    assert all(line["level"] == "info" and "exception" not in line for line in refused)
    assert "Invalid header value char" in refused[0]["event"]
    text = json_logging.getvalue()
    for secret in ("eyJ", "123456", "447400123456", "Traceback"):
        assert secret not in text


def _parser_error_record() -> logging.LogRecord:
    from aiohttp.http_exceptions import BadHttpMessage

    exc = BadHttpMessage("Invalid header value char:\n\n  b'Authorization: Bearer x'")
    return logging.LogRecord(
        "aiohttp.server",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        ("203.0.113.7",),
        (type(exc), exc, None),
    )


def test_malformed_http_lines_are_rate_limited() -> None:
    """After a burst, parser-error lines are let through at a steady rate; the next one says how
    many were left out."""
    now = [0.0]
    quiet = MalformedHttpFilter(burst=3, per_s=1.0, monotonic=lambda: now[0])
    passed = [quiet.filter(_parser_error_record()) for _ in range(10)]
    assert passed == [True] * 3 + [False] * 7
    now[0] = 1.0
    record = _parser_error_record()
    assert quiet.filter(record)
    assert "7 more" in record.getMessage()
    assert record.levelno == logging.INFO
    assert record.exc_info is None
