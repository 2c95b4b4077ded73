"""Shared helpers for the gateway's HTML pages (PIN step, dashboard).

`setup_templates(app)` installs one aiohttp-jinja2 environment over `gateway/templates` and
`setup_static(app)` serves `gateway/static` at `/static/`; both are idempotent, so every feature
that renders pages calls them from its own `setup(app)` without caring who came first.
`security_headers(response)` applies the strict headers every page of ours carries.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

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
