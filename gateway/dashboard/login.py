"""Log in and out: the login form (double-submit CSRF cookie), the limited password check, and the
session cookie it sets."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import DASHBOARD
from gateway.clientip import client_ip
from gateway.dashboard.auth import COOKIE, COOKIE_PATH, LOGIN_COOKIE, Session, csrf_ok, set_cookie
from gateway.dashboard.page import BASE, render, safe_back, secure, see_other
from gateway.logs import get_logger

log = get_logger("gateway.dashboard")

Again = Callable[[str, int], web.StreamResponse]


async def login_form(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(LOGIN_COOKIE) or ""
    if len(token) < 32:
        token = secrets.token_urlsafe(32)
    response = render(
        "dashboard/login.html",
        request,
        None,
        {"login_csrf": token, "next": safe_back(request.query.get("next"), BASE), "error": None},
    )
    set_cookie(
        response,
        LOGIN_COOKIE,
        token,
        secure=request.app[DASHBOARD].settings.dashboard.cookie_secure,
        max_age=3600,
    )
    return secure(request, response)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not csrf_ok(cookie, form.get("csrf")):
        return secure(request, web.Response(status=403, text="CSRF token missing or wrong"))
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    next_url = safe_back(form.get("next"), BASE)

    def again(message: str, status: int) -> web.StreamResponse:
        context = {"login_csrf": cookie, "next": next_url, "error": message}
        return secure(request, render("dashboard/login.html", request, None, context, status))

    try:
        return await _login(request, username, password, next_url, again)
    except RedisError as exc:
        log.warning("dashboard login: Redis unavailable", error=str(exc))
        return again("The session store is unavailable. Try again shortly.", 503)


async def _login(
    request: web.Request, username: str, password: str, next_url: str, again: Again
) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    ip = client_ip(request, dash.settings.dashboard.trusted_proxy_hops)
    # Counted before the (slow) password check, so parallel guesses cannot pass the limits.
    gate = await dash.limiter.begin(ip, username)
    if not gate.allowed:
        log.warning("dashboard login refused: too many failures", ip=ip, why=gate.why)
        return again("Too many failed attempts. Try again later.", 429)
    if not await dash.auth.check(username, password):
        log.info("dashboard login failed", ip=ip)
        return again("Wrong username or password.", 401)
    await dash.limiter.succeeded(ip, username)
    token, _ = await dash.sessions.create(username, dash.auth.tag(username) or "")
    log.info("dashboard login", user=username, ip=ip)
    response = see_other(next_url)
    set_cookie(
        response,
        COOKIE,
        token,
        secure=dash.settings.dashboard.cookie_secure,
        max_age=dash.sessions.max_s,
    )
    response.del_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return secure(request, response)


async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    await request.app[DASHBOARD].sessions.destroy(session)
    response = see_other(f"{BASE}/login")
    response.del_cookie(COOKIE, path=COOKIE_PATH)
    return response
