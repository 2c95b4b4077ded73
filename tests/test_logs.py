"""Logs: phone numbers never appear whole, whatever path the text takes into a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from gateway.logs import configure_logging, get_logger, mask_phone, mask_phones_in


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


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """Configure logging as `serve` does, into a buffer; put the test defaults back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    yield out
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


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
