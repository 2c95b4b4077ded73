"""How every dashboard response is made: templates with the common context, strict headers,
redirects only to our own pages, and the fixed notices shown after an action."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp_jinja2
from aiohttp import web

from gateway.appkeys import DASHBOARD
from gateway.dashboard import charts, eventsearch, export
from gateway.dashboard.auth import Session
from gateway.web import DEFAULT_CSP, security_headers

BASE = "/dashboard"
# The pages' own script polls the JSON/partial endpoints: allow fetches back to us, nothing else.
CSP = DEFAULT_CSP + "; connect-src 'self'"
HSTS = "max-age=31536000"
# Messages shown after an action: the redirect carries only one of these codes (?notice=code),
# so nobody can craft a link that shows a message of their choosing on our pages.
NOTICES = {
    "override-applied": "Override applied on every instance.",
    "override-removed": "Override removed.",
    "override-gone": "That override was already gone.",
    "pin-unlocked": "PIN unlocked: the user keeps their PIN.",
    "pin-not-locked": "That user's PIN was not locked; nothing changed.",
}


def see_other(location: str) -> web.Response:
    """A 303 redirect, returned (not raised) so security headers and cookies can be added."""
    return web.Response(status=303, headers={"Location": location})


def safe_back(value: object, default: str) -> str:
    """Only our own dashboard paths are redirect targets."""
    text = str(value or "")
    if text.startswith(BASE) and not text.startswith("//") and "\\" not in text:
        return text
    return default


def secure(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """The dashboard's security headers (HSTS when served over HTTPS, as the cookie needs)."""
    security_headers(response, CSP)
    if request.app[DASHBOARD].settings.dashboard.cookie_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def render(
    name: str,
    request: web.Request,
    session: Session | None,
    context: Mapping[str, object],
    status: int = 200,
) -> web.Response:
    """Render a dashboard template with what every page uses (user, CSRF token, notice...)."""
    base: dict[str, object] = {
        "user": session.user if session else None,
        "csrf": session.csrf if session else "",
        "refresh_s": request.app[DASHBOARD].settings.dashboard.refresh_s,
        "path": request.path,
        "path_qs": request.path_qs,
        "bar": charts.bar,
        "iso": export.iso,
        "signal_columns": eventsearch.SIGNAL_COLUMNS,
        "signal_filters": eventsearch.SIGNAL_FILTERS,
        "notice": NOTICES.get(request.query.get("notice", ""), ""),
    }
    base.update(context)
    response = aiohttp_jinja2.render_template(name, request, base)
    response.set_status(status)
    return response
