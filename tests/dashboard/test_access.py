"""Dashboard access: off without users, login required, cookies, CSRF, rate limits, headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.settings import Settings, build_settings
from tests.auth0 import SECRET
from tests.dashboard.conftest import (
    PASSWORD,
    USER,
    Client,
    MakeGateway,
    csrf_of,
    login,
)

MakeClient = Callable[[web.Application], Awaitable[Client]]


async def test_dashboard_is_off_without_users(aiohttp_client: MakeClient, redis_url: str) -> None:
    """With no dashboard users the gateway serves, and every dashboard path is 404."""
    settings = build_settings(
        {"redis": {"url": redis_url}, "auth0": {"gateway_secret": SECRET}}, environ={}
    )
    client = await aiohttp_client(create_app(settings))
    for path in ("/dashboard", "/dashboard/login", "/dashboard/api/overview"):
        assert (await client.get(path)).status == 404
    assert (await client.get("/healthz")).status == 200


async def test_unauthenticated_page_redirects_to_login(client: Client) -> None:
    """A page without a session answers 303 to the login form, remembering where it was."""
    resp = await client.get("/dashboard/events?action=blocked", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/dashboard/login?next=%2Fdashboard%2Fevents")


async def test_unauthenticated_api_is_refused(client: Client) -> None:
    """The JSON API and the CSV export answer 401 without a session."""
    for path in ("/dashboard/api/overview", "/dashboard/api/events", "/dashboard/api/events.csv"):
        assert (await client.get(path)).status == 401


async def test_wrong_password_is_refused_without_a_session(client: Client) -> None:
    """A wrong password answers 401, sets no session cookie and the pages stay closed."""
    assert await login(client, password="wrong") == 401
    assert "smsguard_session" not in {c.key for c in client.session.cookie_jar}
    resp = await client.get("/dashboard", allow_redirects=False)
    assert resp.status == 303


async def test_unknown_user_is_refused(client: Client) -> None:
    """A user who is not in the settings cannot log in, even with a configured password."""
    assert await login(client, user="mallory", password=PASSWORD) == 401


async def test_right_password_opens_the_dashboard(client: Client) -> None:
    """After a login the overview answers 200 and names the user."""
    assert await login(client) == 303
    resp = await client.get("/dashboard")
    assert resp.status == 200
    assert USER in await resp.text()


async def test_session_cookie_is_secure_httponly_strict(make_gateway: MakeGateway) -> None:
    """The session cookie is Secure, HttpOnly, SameSite=Strict and scoped to /dashboard."""
    client = await make_gateway(cookie_secure=True)
    page = await client.get("/dashboard/login")
    # A client only returns Secure cookies over HTTPS; this test server is plain HTTP.
    login_cookie = {"smsguard_login": page.cookies["smsguard_login"].value}
    resp = await client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(await page.text()), "username": USER, "password": PASSWORD},
        cookies=login_cookie,
        allow_redirects=False,
    )
    assert resp.status == 303
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if "smsguard_session=" in v)
    lowered = cookie.lower()
    assert "secure" in lowered
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    assert "path=/dashboard" in lowered


async def test_login_without_csrf_token_is_forbidden(client: Client) -> None:
    """A login post without the form's CSRF token answers 403 (no password is checked)."""
    resp = await client.post(
        "/dashboard/login", data={"username": USER, "password": PASSWORD}, allow_redirects=False
    )
    assert resp.status == 403


async def test_action_without_csrf_token_is_forbidden(client: Client) -> None:
    """A logged-in POST without the session's CSRF token answers 403 and changes nothing."""
    await login(client)
    resp = await client.post(
        "/dashboard/actions/overrides",
        data={"kind": "ip", "value": "198.51.100.1", "action": "block", "reason": "x"},
        allow_redirects=False,
    )
    assert resp.status == 403
    overrides = await (await client.get("/dashboard/api/overrides")).json()
    assert overrides["overrides"] == []


async def test_action_with_a_wrong_csrf_token_is_forbidden(client: Client) -> None:
    """A CSRF token that is not this session's answers 403."""
    await login(client)
    resp = await client.post(
        "/dashboard/actions/overrides",
        data={
            "csrf": "x" * 43,
            "kind": "ip",
            "value": "198.51.100.1",
            "action": "block",
            "reason": "x",
        },
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_repeated_failures_are_rate_limited(make_gateway: MakeGateway) -> None:
    """After dashboard.login_attempts failures even the right password answers 429."""
    client = await make_gateway(login_attempts=2)
    assert await login(client, password="nope") == 401
    assert await login(client, password="nope") == 401
    assert await login(client) == 429


async def test_logout_ends_the_session(client: Client) -> None:
    """After logging out the old cookie no longer opens a page."""
    await login(client)
    page = await client.get("/dashboard")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/dashboard"))
    token = cookie["smsguard_session"].value
    resp = await client.post(
        "/dashboard/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False
    )
    assert resp.status == 303
    again = await client.get(
        "/dashboard", cookies={"smsguard_session": token}, allow_redirects=False
    )
    assert again.status == 303


async def test_session_ends_after_its_absolute_lifetime(make_gateway: MakeGateway) -> None:
    """A session older than dashboard.session_max_hours is refused even while in use."""
    clock = FakeClock(start=1_800_000_000.0)
    client = await make_gateway(session_max_hours=1, clock=clock)
    await login(client)
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200
    clock.advance(3601)
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303


async def test_pages_carry_strict_security_headers(client: Client) -> None:
    """Pages have a CSP without inline script, no framing, no referrer and no caching."""
    await login(client)
    for path in ("/dashboard/login", "/dashboard", "/dashboard/api/overview"):
        resp = await client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"


async def test_login_redirect_never_leaves_the_dashboard(client: Client) -> None:
    """A `next` pointing elsewhere is replaced by the dashboard (no open redirect)."""
    page = await client.get("/dashboard/login")
    resp = await client.post(
        "/dashboard/login",
        data={
            "csrf": csrf_of(await page.text()),
            "username": USER,
            "password": PASSWORD,
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/dashboard"


async def test_session_idles_out_in_redis(client: Client, settings: Settings) -> None:
    """The session record expires after dashboard.session_idle_minutes without use."""
    from redis.asyncio import Redis

    await login(client)
    redis: Redis = Redis.from_url(settings.redis.url)
    (key,) = await redis.keys("smsguard:dash:session:*")
    ttl = await redis.ttl(key)
    assert 0 < ttl <= settings.dashboard.session_idle_minutes * 60
    await redis.aclose()
