"""Shared HTTP helpers: reading requests safely, and the gateway's HTML pages (PIN step, dashboard).

Requests: `read_body(request)` returns the (decoded) body or raises an `IntakeError` naming what is
wrong and where (bad Content-Encoding, a malformed chunked body, too large, or `ClientGone` when
the client hung up); `one_header(request, name)` refuses a header sent twice; the
`request_errors` middleware turns those errors, and the same failures met by a handler reading a
form or JSON itself, into a 4xx answer instead of a 500 with a traceback.

Pages: `setup_templates(app)` installs one aiohttp-jinja2 environment over `gateway/templates` and
`setup_static(app)` serves `gateway/static` at `/static/`; both are idempotent, so every feature
that renders pages calls them from its own `setup(app)` without caring who came first.
`security_headers(response)` applies the strict headers every page of ours carries.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.client_exceptions import ClientPayloadError
from aiohttp.http_exceptions import (
    ContentEncodingError,
    ContentLengthError,
    DecompressSizeError,
    HttpProcessingError,
    TransferEncodingError,
)

from gateway.errors import ClientGone, IntakeError
from gateway.logs import parser_error_reason

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/"
_STATIC_ROUTE = "static"

# Nothing from elsewhere, no inline script or style, no framing, forms only back to us.
DEFAULT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def setup_templates(app: web.Application) -> jinja2.Environment:
    """Install (once) the jinja2 environment for gateway/templates; return it."""
    existing = app.get(aiohttp_jinja2.APP_KEY)
    if existing is not None:
        return existing
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html", "xml", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[aiohttp_jinja2.static_root_key] = STATIC_PREFIX.rstrip("/")
    return env


def setup_static(app: web.Application) -> None:
    """Serve gateway/static at /static/ (once; feature files are named `<feature>-*`)."""
    if _STATIC_ROUTE in app.router.named_resources() or not STATIC_DIR.is_dir():
        return
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, name=_STATIC_ROUTE, append_version=True)


def security_headers(response: web.StreamResponse, csp: str = DEFAULT_CSP) -> web.StreamResponse:
    """Set CSP, anti-framing, no-referrer, no-store and nosniff on a page response; return it."""
    headers = response.headers
    headers["Content-Security-Policy"] = csp
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cache-Control"] = "no-store"
    headers["Pragma"] = "no-cache"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    return response


# Content codings a request body may carry: the ones aiohttp decodes (RFC 9110 section 8.4.1).
BODY_ENCODINGS = frozenset({"", "identity", "gzip", "deflate", "x-gzip"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A request id a client may choose (kept for log correlation only): a short printable token.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,63}$")


def client_request_id(value: str | None) -> str | None:
    """The client's X-Request-Id when it is a short printable token, else None."""
    if value is None or not _REQUEST_ID.match(value):
        return None
    return value


def one_header(request: web.BaseRequest, name: str) -> str | None:
    """The value of a header sent at most once; a second copy is ambiguous (a proxy may read the
    other one), so it is refused with 400 naming the header."""
    values = request.headers.getall(name, [])
    if len(values) > 1:
        raise IntakeError(400, f"sent {len(values)} times: send it once", field=name)
    return values[0] if values else None


def body_error(exc: BaseException) -> IntakeError | None:
    """What to answer for an exception met while reading a request body (None: not such a one)."""
    if isinstance(exc, web.RequestPayloadError):
        # aiohttp wraps the parser's error (bad gzip, bad chunk) in this one.
        cause = exc.__cause__
        if isinstance(cause, HttpProcessingError):
            return body_error(cause)
        return IntakeError(400, "malformed body", field="body")
    if isinstance(exc, ContentLengthError | ConnectionResetError | ClientPayloadError):
        # The connection ended before Content-Length bytes came: nobody is left to answer.
        return ClientGone()
    if isinstance(exc, web.HTTPRequestEntityTooLarge | DecompressSizeError):
        return IntakeError(413, "body too large", field="body")
    if isinstance(exc, ContentEncodingError):
        return IntakeError(
            400, "body is not encoded as its Content-Encoding says", field="Content-Encoding"
        )
    if isinstance(exc, TransferEncodingError):
        return IntakeError(400, "malformed chunked body", field="Transfer-Encoding")
    if isinstance(exc, HttpProcessingError):
        return IntakeError(400, parser_error_reason(exc), field="body")
    return None


async def read_body(request: web.BaseRequest) -> bytes:
    """The request body, decoded from gzip/deflate; IntakeError (with its field) when it cannot
    be read, ClientGone when the client hung up half-way."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in BODY_ENCODINGS:
        raise IntakeError(415, "unsupported: use gzip, deflate or none", field="Content-Encoding")
    try:
        return await request.read()
    except Exception as exc:
        error = body_error(exc)
        if error is None:
            raise
        raise error from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bad requests answered 4xx with `{"error", "field"}`, whichever handler met them.

    A form body is read (and cached by aiohttp for the handler) before the handler runs: what
    `request.post()` raises for a malformed one (a multipart body without its boundary, bytes
    that are not UTF-8, an unknown charset) is then known to be the client's fault, not a defect.
    """
    try:
        if request.method == "POST" and request.content_type in FORM_TYPES:
            try:
                await request.post()
            except (ValueError, LookupError):  # UnicodeDecodeError is a ValueError
                return web.json_response(
                    {"error": "malformed form body", "field": "body"}, status=400
                )
        return await handler(request)
    except IntakeError as exc:
        return web.json_response(exc.as_json(), status=exc.status)
    except (
        HttpProcessingError,
        web.RequestPayloadError,
        ConnectionResetError,
        ClientPayloadError,
    ) as exc:
        error = body_error(exc) or IntakeError(400, "malformed request")
        return web.json_response(error.as_json(), status=error.status)
