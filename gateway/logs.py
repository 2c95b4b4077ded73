"""Structured logging: one JSON line per request, phone numbers masked or hashed, never secrets.

`mask_phone("+447700900123")` -> "+44*******123". `PhoneHasher` gives a keyed hash so the same
number can be followed across lines without being readable.

Every line, whoever emits it (our structlog loggers, or aiohttp, redis and asyncio through stdlib
logging), passes the same scrubber (`scrub_text`): bearer and basic credentials, JWTs and the
`body` of an SMS are redacted, phone numbers masked. aiohttp's own errors for malformed HTTP (which
quote the raw header or body bytes) are rewritten by `MalformedHttpFilter`: info level, no
traceback, no raw bytes, rate-limited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger


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
    r"|(?<!\w)%2[Bb]\d{8,15}(?!\d)"  # the same, URL-encoded (a form or query string)
    r"|(?<![\w.:/+-])\d(?:[ -]?\d){7,14}(?![\w-]|\.\d)"
)
# Values that are never phone numbers and must stay readable.
_NOT_SCRUBBED = frozenset({"timestamp", "request_id", "phone_hash", "level", "logger"})


def mask_phones_in(text: str) -> str:
    """Mask every phone-number-like run in free text (exceptions, provider errors, messages)."""
    return _PHONEISH.sub(lambda m: mask_phone("+" + _digits(m.group(0))), text)


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number[3:] if number[:3].upper() == "%2B" else number)


# Credentials and message text in free text: `Bearer <token>` / `Basic <credentials>` (a header
# quoted in an error), any JWT (base64url segments, the first a JSON object: "eyJ"), and the text
# of an SMS, which holds the one-time code: a `body` or `text` value in JSON (also escaped, or cut
# short as in an excerpt of raw bytes), in a Python repr, or in a form (`Body=`, `text=`).
_SECRETS = re.compile(
    r"(?P<scheme>\b(?:bearer|basic)\s+)[^\s'\",;]+"
    r"|eyJ[\w-]*\.[\w-]+(?:\.[\w-]*)?"
    r"|(?P<dq>\b(?:body|text)\\?[\"']?\s*[:=]\s*\\?\")(?:[^\"\\]|\\[^\"])*"
    r"|(?P<sq>\b(?:body|text)'?\s*[:=]\s*')(?:[^'\\]|\\.)*"
    r"|(?P<form>\b(?:body|text)=)[^&\s'\"]*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def _redact(match: re.Match[str]) -> str:
    prefix = next((g for g in match.group("scheme", "dq", "sq", "form") if g), "")
    return prefix + REDACTED


def scrub_text(text: str) -> str:
    """Free text made safe for a log line: secrets and message bodies redacted, numbers masked."""
    text = _SECRETS.sub(_redact, text)
    return mask_phones_in(text) if any(ch.isdigit() for ch in text) else text


def _scrub_value(value: object, phones: bool = True) -> object:
    if isinstance(value, str):
        if phones:
            return scrub_text(value)
        return _SECRETS.sub(_redact, value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_scrub_value(v) for v in value]
    return value


def _scrub(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Last line of defence: redact secrets and mask phone-number-like text in every value, nested
    ones included, after exceptions have been rendered to text."""
    for key, value in event_dict.items():
        event_dict[key] = _scrub_value(value, phones=key not in _NOT_SCRUBBED)
    return event_dict


def parser_error_reason(exc: HttpProcessingError) -> str:
    """What aiohttp's parser found wrong, without the raw bytes it quotes after the first line
    (or after `: b'`): those can hold a whole Authorization header or an SMS."""
    reason = re.split(r"\n|: b['\"]", str(exc.message), maxsplit=1)[0].rstrip(": .")
    return reason or type(exc).__name__


class MalformedHttpFilter(logging.Filter):
    """aiohttp's error for a request it could not parse, made an info line without raw bytes.

    aiohttp logs every malformed request at error level with a traceback whose message quotes the
    offending bytes (a whole `Authorization` header, part of a body): anyone could fill the log
    and trip error alerts. Such a record becomes one info line naming the problem (its first line,
    without the quoted bytes), at most `burst` lines and then `per_s` a second; the next line
    after a quiet spell says how many were left out.
    """

    def __init__(
        self,
        *,
        level: int = logging.INFO,
        burst: int = 20,
        per_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._level = level
        self._burst = float(burst)
        self._per_s = per_s
        self._monotonic = monotonic
        self._tokens = float(burst)
        self._last = monotonic()
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, RequestPayloadError):
            # A body aiohttp could not decode, met again when it drains what a handler left.
            exc = exc.__cause__
        if not isinstance(exc, HttpProcessingError):
            return True
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._per_s)
        self._last = now
        if self._tokens < 1:
            self.suppressed += 1
            return False
        self._tokens -= 1
        reason = parser_error_reason(exc)
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
        text = f"malformed HTTP request refused ({exc.code or 400}): {reason}"
        if isinstance(remote, str):
            text += f" (from {remote})"
        if self.suppressed:
            text += f" ({self.suppressed} more since the last such line, not logged)"
            self.suppressed = 0
        record.msg, record.args = text, ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.levelno = min(record.levelno, logging.INFO)
        record.levelname = logging.getLevelName(record.levelno)
        # The logger checked the record's old level: check the new one against the configured one.
        return record.levelno >= self._level


def configure_logging(
    level: str = "info", fmt: str = "auto", stream: TextIO | None = None, *, cache: bool = True
) -> None:
    """Configure structlog, and stdlib logging (aiohttp's own errors) through the same
    processors, once per process (called from main, never at import). Lines go to stderr."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _scrub, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(out),
        # Off in tests that reconfigure: a cached logger keeps writing where it first wrote.
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(out)
    handler.addFilter(MalformedHttpFilter(level=logging.getLevelName(level.upper())))
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


def get_logger(name: str) -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger(name)  # the wrapper configure_logging sets
    return logger
