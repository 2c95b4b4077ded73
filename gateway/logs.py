"""Structured logging: one JSON line per request, phone numbers masked or hashed, never secrets.

`mask_phone("+447700900123")` -> "+44*******123". `PhoneHasher` gives a keyed hash so the same
number can be followed across lines without being readable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog


def mask_phone(number: str | None) -> str:
    """Keep the country-code-ish first 3 characters and the last 3 digits; star the rest."""
    if not number:
        return ""
    digits = number.lstrip("+")
    if len(digits) <= 6:
        return "+" + "*" * len(digits)
    return "+" + digits[:2] + "*" * (len(digits) - 5) + digits[-3:]


class PhoneHasher:
    """Keyed hash of a phone number: stable for one key, unreadable without it."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def __call__(self, number: str) -> str:
        return hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()[:16]


# A phone number in free text: 8-15 digits with single spaces or dashes between them; after a
# "+" always, otherwise only when not glued to letters, dots or dashes or following a colon or
# slash (IPs, dates, hex ids, URL paths). Times, ports and IPv6 groups are never 8 digits long.
_PHONEISH = re.compile(
    r"(?<![\w+])\+\d(?:[ -]?\d){7,14}(?!\d)"  # "+..." is a number whatever follows it
    r"|(?<![\w.:/+-])\d(?:[ -]?\d){7,14}(?![\w-]|\.\d)"
)
# Values that are never phone numbers and must stay readable.
_NOT_SCRUBBED = frozenset({"timestamp", "request_id", "phone_hash", "level", "logger"})


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-like run in free text (exceptions, provider errors, messages)."""
    return _PHONEISH.sub(lambda m: mask_phone("+" + re.sub(r"\D", "", m.group(0))), text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phones_in(value) if any(ch.isdigit() for ch in value) else value
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_scrub_value(v) for v in value]
    return value


def _scrub(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: mask phone-number-like text in every value, nested ones included,
    after exceptions have been rendered to text."""
    for key, value in event_dict.items():
        if key not in _NOT_SCRUBBED:
            event_dict[key] = _scrub_value(value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog, and stdlib logging (aiohttp's own errors) through the same
    processors, once per process (called from main, never at import). Lines go to stderr."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _scrub, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _scrub,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
