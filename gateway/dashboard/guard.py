"""The auth guard: every dashboard handler but the login runs behind a live session (and, on POST,
its CSRF token); a Redis outage is a 503, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import DASHBOARD
from gateway.dashboard.auth import COOKIE, AuthedHandler, Session, csrf_ok
from gateway.dashboard.page import BASE, secure, see_other
from gateway.logs import get_logger

log = get_logger("gateway.dashboard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _session(request: web.Request) -> Session | None:
    dash = request.app[DASHBOARD]
    session = await dash.sessions.load(request.cookies.get(COOKIE))
    if session is not None and not dash.auth.session_valid(session):
        # The user was removed from the settings or has a new password.
        await dash.sessions.destroy(session)
        log.info("dashboard session ended: user removed or password changed")
        return None
    return session


def guard(handler: AuthedHandler, *, api: bool = False) -> Handler:
    """Require a live session (and, on POST, its CSRF token) before `handler` runs."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            session = await _session(request)
        except RedisError:
            return secure(request, web.Response(status=503, text="session store unavailable"))
        if session is None:
            if api or request.method != "GET":
                return secure(request, web.json_response({"error": "login required"}, status=401))
            target = f"{BASE}/login?{urlencode({'next': request.path_qs})}"
            return secure(request, see_other(target))
        if request.method == "POST":
            form = await request.post()
            if not csrf_ok(session.csrf, form.get("csrf")):
                return secure(request, web.Response(status=403, text="CSRF token missing or wrong"))
        try:
            return secure(request, await handler(request, session))
        except RedisError as exc:
            log.warning("dashboard: Redis unavailable", error=str(exc), path=request.path)
            return secure(request, web.Response(status=503, text="Redis is unavailable; retry"))

    return wrapped
