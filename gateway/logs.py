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

import asyncio
import atexit
import functools
import hashlib
import hmac
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError


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
# Of those, the ones this process formats itself (an ISO time, a level name, a hex digest) when
# they are strings: nothing a caller wrote can be in them, so they are not even searched.
_OWN_FORMAT = frozenset({"timestamp", "level", "phone_hash"})


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
    if len(text) <= _MEMO_MAX_LEN:
        return _scrub_short(text)
    return _scrub_text(text)


def _scrub_text(text: str) -> str:
    text = _SECRETS.sub(_redact, text)
    return mask_phones_in(text) if any(ch.isdigit() for ch in text) else text


# Most values of a request line repeat (outcome, rule, country, masked number, path, IP under an
# attack): the same text always scrubs the same, so short ones are remembered.
_MEMO_MAX_LEN = 64
_scrub_short = functools.lru_cache(maxsize=8192)(_scrub_text)


def _scrub_value(value: Any, phones: bool = True) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value  # bool is an int: numbers carry no text to scrub
    if isinstance(value, str):
        if phones:
            return scrub_text(value)
        return _SECRETS.sub(_redact, value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_scrub_value(v) for v in value]
    return value


def _scrub(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: redact secrets and mask phone-number-like text in every value, nested
    ones included, after exceptions have been rendered to text."""
    for key, value in event_dict.items():
        kind = type(value)
        if kind is str:
            if key in _OWN_FORMAT:
                continue
            event_dict[key] = (
                _SECRETS.sub(_redact, value) if key in _NOT_SCRUBBED else scrub_text(value)
            )
        elif value is not None and kind is not int and kind is not float and kind is not bool:
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


def _orjson_default(value: object) -> str:
    return repr(value)


def _render_json(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> str:
    """One JSON line, rendered once; orjson is about ten times json.dumps on a request line."""
    return orjson.dumps(
        event_dict, default=_orjson_default, option=orjson.OPT_NON_STR_KEYS
    ).decode()


class BufferedLineWriter:
    """Log lines gathered while the event loop runs a tick, written with one call after it.

    One write (and one flush) per tick instead of one per line: under load a tick completes many
    requests. Outside a running loop (the CLI, start-up, shutdown) a line is written at once, and
    a pending batch is written before it so the order holds.
    """

    MAX_PENDING = 256  # lines: past that the batch is written without waiting for the tick's end

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._pending: list[str] = []

    def write_line(self, line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._pending.append(line)
            self.flush()
            return
        if not self._pending:
            loop.call_soon(self.flush)
        self._pending.append(line)
        if len(self._pending) >= self.MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        try:
            self._out.write(text)
            self._out.flush()
        except ValueError:
            pass  # the stream was closed (a test's capture ended): nothing left to write to


class _BufferedLogger:
    """structlog's PrintLogger, writing through a BufferedLineWriter."""

    def __init__(self, writer: BufferedLineWriter) -> None:
        self._writer = writer

    def msg(self, message: str) -> None:
        self._writer.write_line(message)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


def configure_logging(
    level: str = "info", fmt: str = "auto", stream: TextIO | None = None, *, cache: bool = True
) -> None:
    """Configure structlog, and stdlib logging (aiohttp's own errors) through the same
    processors, once per process (called from main, never at import). Lines go to stderr."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = _render_json if use_json else structlog.dev.ConsoleRenderer()
    writer = BufferedLineWriter(out)
    # A batch still waiting for its tick when the process exits is written, not lost.
    atexit.register(writer.flush)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _scrub, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=lambda *_: _BufferedLogger(writer),
        # Off in tests that reconfigure: a cached logger keeps writing where it first wrote.
        cache_logger_on_first_use=cache,
    )
    handler = _BufferedHandler(writer)
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


class _BufferedHandler(logging.Handler):
    """stdlib records (aiohttp, redis, asyncio) into the same writer, so lines keep their order."""

    def __init__(self, writer: BufferedLineWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._writer.write_line(self.format(record))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
