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
from typing import Any

import structlog

_E164 = re.compile(r"\+\d{6,15}")


def mask_phone(number: str | None) -> str:
    """Keep the country-code-ish first 3 characters and the last 3 digits; star the rest."""
    if not number:
        return ""
    digits = number.lstrip("+")
    if len(digits) <= 6:
        return "+" + "*" * len(digits)
    return "+" + digits[:2] + "*" * (len(digits) - 5) + digits[-3:]


def mask_phones_in(text: str) -> str:
    """Mask anything that looks like an E.164 number inside free text (provider error bodies)."""
    return _E164.sub(lambda m: mask_phone(m.group(0)), text)


class PhoneHasher:
    """Keyed hash of a phone number: stable for one key, unreadable without it."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def __call__(self, number: str) -> str:
        return hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()[:16]


def _scrub(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: mask E.164-looking strings in every logged value."""
    for key, value in event_dict.items():
        if isinstance(value, str) and "+" in value:
            event_dict[key] = mask_phones_in(value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog once per process (called from main, never at import)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _scrub,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
