"""Security review fixes: audit rows, masking, PIN store, login limits, sessions, notices, HSTS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from argon2 import PasswordHasher
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.overrides import AUDIT_KEY
from gateway.settings import Settings
from tests.dashboard.conftest import (
    FAST_HASH,
    PASSWORD,
    USER,
    Client,
    MakeGateway,
    csrf_of,
    gateway_settings,
    login,
    send,
    settle,
)

MakeClient = Callable[[web.Application], Awaitable[Client]]

FULL_NUMBER_RULES = """\
rules:
  - id: per-number
    description: codes per number
    velocity:
      key: phone.prefix:15
      limits: [{max: 1, per: 10m}]
    action: block
  - id: per-number-national
    description: codes per national number (shadow)
    velocity:
      key: phone.national_prefix:14
      limits: [{max: 1, per: 10m}]
    action: block
    mode: shadow
default: allow
"""


async def _actions_csrf(client: Client) -> str:
    return csrf_of(await (await client.get("/dashboard/actions")).text())


async def _unlock(client: Client, user_id: str = "sms|abc") -> str:
    resp = await client.post(
        "/dashboard/actions/pin-unlock",
        data={"csrf": await _actions_csrf(client), "user_id": user_id, "reason": "support call"},
        allow_redirects=False,
    )
    assert resp.status == 303
    return resp.headers["Location"]


async def _block(client: Client, kind: str, value: str, **extra: str) -> ClientResponse:
    return await client.post(
        "/dashboard/actions/overrides",
        data={
            "csrf": await _actions_csrf(client),
            "kind": kind,
            "value": value,
            "action": extra.pop("action", "block"),
            "reason": "test",
            "expires": "",
            **extra,
        },
        allow_redirects=False,
    )


# -- 1: the Actions page after a PIN unlock --------------------------------------------------------


async def test_actions_page_loads_after_a_pin_unlock(client: Client) -> None:
    """After a PIN unlock the Actions page still answers 200 and lists the unlock."""
    await login(client)
    location = await _unlock(client)
    for path in (location, "/dashboard/actions"):
        resp = await client.get(path)
        assert resp.status == 200
        assert "pin-unlock" in await resp.text()


async def test_actions_page_renders_audit_entries_missing_fields(
    client: Client, redis: Redis
) -> None:
    """An audit entry written before every field was filled in still renders."""
    await redis.xadd(AUDIT_KEY, {"e": json.dumps({"time": 1.0, "change": "pin-unlock"})})
    await login(client)
    assert (await client.get("/dashboard/actions")).status == 200


# -- 2: no full number from free-text fields -------------------------------------------------------


async def test_rule_keyed_on_a_full_number_leaves_no_number_in_pages(
    aiohttp_client: MakeClient, redis_url: str, tmp_path: Path
) -> None:
    """A rule keyed on phone.prefix:15 shows no full number in event pages, the API or the CSV."""
    settings = gateway_settings(redis_url, tmp_path / "rules")
    (tmp_path / "rules" / "rules.yaml").write_text(FULL_NUMBER_RULES)
    client = await aiohttp_client(create_app(settings))
    for _ in range(3):
        await send(client, "+447400123456")
    await settle(client)
    await login(client)
    events = (await (await client.get("/dashboard/api/events")).json())["events"]
    assert any(e.get("rule") == "per-number" for e in events)
    pages = ["/dashboard/events", "/dashboard/api/events", "/dashboard/api/events.csv"]
    pages += [f"/dashboard/events/{e['sid']}" for e in events]
    pages += [f"/dashboard/api/events/{e['sid']}" for e in events]
    for path in pages:
        body = await (await client.get(path)).text()
        assert "447400123456" not in body, path
        assert "7400123456" not in body, path


# -- 3: PIN unlock in the PIN step's store, audited with the CLI's ---------------------------------


LOCKED = "smsguard:{pin}:user:sms|abc"


@pytest.fixture
async def pin_redis(redis_url: str) -> AsyncIterator[tuple[str, Redis]]:
    """A Redis database of its own for pin.redis_url, holding the locked PIN user sms|abc."""
    pin_url = redis_url.rsplit("/", 1)[0] + "/5"
    client: Redis = Redis.from_url(pin_url)
    await client.hset(LOCKED, mapping={"hash": "x", "failures": "5", "locked_at": "1"})
    yield pin_url, client
    await client.aclose()


async def test_pin_unlock_uses_pin_redis_url_and_the_pin_audit_stream(
    make_gateway: MakeGateway, redis: Redis, pin_redis: tuple[str, Redis]
) -> None:
    """With pin.redis_url set, the unlock clears the lock there and audits in its PIN stream."""
    pin_url, pin_store = pin_redis
    client = await make_gateway(sections={"pin": {"redis_url": pin_url}})
    await login(client)
    location = await _unlock(client)
    assert "notice=pin-unlocked" in location
    assert await pin_store.hget(LOCKED, "locked_at") is None
    assert await pin_store.hget(LOCKED, "hash") == b"x"
    entries: Any = await pin_store.xrange("smsguard:{pin}:audit")
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"action"] == b"unlock"
    assert fields[b"user"] == b"sms|abc"
    assert fields[b"operator"] == USER.encode()
    assert fields[b"changed"] == b"1"
    assert not await redis.exists("smsguard:{pin}:audit")


async def test_pin_unlock_uses_the_running_pin_steps_store(
    make_gateway: MakeGateway, redis: Redis, pin_redis: tuple[str, Redis]
) -> None:
    """With the PIN step on, the unlock goes to the step's own store (pin.redis_url)."""
    from gateway.pin import PIN_STEP
    from tests.pin.fake_auth0 import SHARED_SECRET, TENANT

    pin_url, pin_store = pin_redis
    pin = {
        "enabled": True,
        "tenant_domain": TENANT,
        "redirect_secret": SHARED_SECRET,
        "redis_url": pin_url,
        "argon2_memory_kib": 8192,
        "argon2_time_cost": 1,
    }
    client = await make_gateway(sections={"pin": pin})
    assert PIN_STEP in client.app
    await login(client)
    assert "notice=pin-unlocked" in await _unlock(client)
    assert await pin_store.hget(LOCKED, "locked_at") is None
    assert await pin_store.xlen("smsguard:{pin}:audit") == 1
    assert not await redis.exists(LOCKED)


async def test_cli_and_dashboard_unlocks_are_listed_together(
    client: Client, settings: Settings
) -> None:
    """The Actions page lists PIN unlocks made with `smsguard pin unlock` and from the page."""
    import argparse

    from gateway.pin.cli import run

    args = argparse.Namespace(
        pin_command="unlock", user_id="sms|from-cli", by="ops", reason="cli", json=False
    )
    assert await run(settings, args) == 0
    await login(client)
    await _unlock(client, "sms|from-page")
    page = await (await client.get("/dashboard/actions")).text()
    pin_log = page.split('id="pin-log"', 1)[1]
    assert pin_log.index("sms|from-page") < pin_log.index("sms|from-cli")  # newest first
    assert ">dashboard<" in pin_log
    assert ">cli<" in pin_log


# -- 4 and 5: login limits -------------------------------------------------------------------------


async def _post_login(
    client: Client, password: str, *, user: str = USER, ip: str | None = None
) -> int:
    page = await client.get("/dashboard/login")
    token = csrf_of(await page.text())
    resp = await client.post(
        "/dashboard/login",
        data={"csrf": token, "username": user, "password": password, "next": "/dashboard"},
        headers={"X-Forwarded-For": ip} if ip else {},
        allow_redirects=False,
    )
    await resp.read()
    return resp.status


async def test_parallel_wrong_logins_cannot_pass_the_limit(make_gateway: MakeGateway) -> None:
    """Forty parallel wrong passwords get at most dashboard.login_attempts password checks."""
    client = await make_gateway(login_attempts=3)
    page = await client.get("/dashboard/login")
    token = csrf_of(await page.text())

    async def attempt(i: int) -> int:
        resp = await client.post(
            "/dashboard/login",
            data={"csrf": token, "username": USER, "password": f"guess{i}"},
            allow_redirects=False,
        )
        await resp.read()
        return resp.status

    statuses = await asyncio.gather(*(attempt(i) for i in range(40)))
    assert statuses.count(401) <= 3
    assert statuses.count(429) >= 37


async def test_failures_behind_a_proxy_count_per_client(make_gateway: MakeGateway) -> None:
    """Behind a trusted proxy, one client's failures do not refuse another client's login."""
    client = await make_gateway(login_attempts=2, trusted_proxy_hops=1)
    for _ in range(4):
        assert await _post_login(client, "nope", ip="198.51.100.66") in (401, 429)
    assert await _post_login(client, "nope", ip="198.51.100.66") == 429
    assert await _post_login(client, PASSWORD, ip="203.0.113.10") == 303


async def test_failures_for_a_username_do_not_lock_it_for_everyone(
    make_gateway: MakeGateway,
) -> None:
    """Someone failing as alice from one IP does not stop alice logging in from another."""
    client = await make_gateway(trusted_proxy_hops=1)
    for i in range(8):  # from several attacker addresses, each under its own IP limit
        await _post_login(client, "nope", ip=f"198.51.100.{i % 4}")
    assert await _post_login(client, PASSWORD, ip="203.0.113.10") == 303


async def test_forwarded_for_lines_are_joined(make_gateway: MakeGateway) -> None:
    """The client IP is taken from all X-Forwarded-For lines, so an extra line cannot spoof it."""
    client = await make_gateway(login_attempts=1, trusted_proxy_hops=1)
    page = await client.get("/dashboard/login")
    token = csrf_of(await page.text())
    statuses = []
    for spoof in ("1.1.1.1", "2.2.2.2"):
        # The client sends its own line first; the trusted proxy appends the real address.
        resp = await client.post(
            "/dashboard/login",
            data={"csrf": token, "username": USER, "password": "nope"},
            headers=[("X-Forwarded-For", spoof), ("X-Forwarded-For", "198.51.100.9")],
            allow_redirects=False,
        )
        statuses.append(resp.status)
    assert statuses == [401, 429]


async def test_a_repeated_failure_waits_before_the_next_try(make_gateway: MakeGateway) -> None:
    """After two failures the same username and IP must wait before trying again."""
    clock = FakeClock(start=1_800_000_000.0)
    client = await make_gateway(login_delay_base_s=2, clock=clock)
    assert await _post_login(client, "nope") == 401
    assert await _post_login(client, "nope") == 401
    assert await _post_login(client, PASSWORD) == 429
    clock.advance(2.5)
    assert await _post_login(client, PASSWORD) == 303


async def test_a_success_gives_its_attempt_back(make_gateway: MakeGateway) -> None:
    """Successful logins do not use up the per-IP attempts."""
    client = await make_gateway(login_attempts=2)
    for _ in range(4):
        assert await _post_login(client, PASSWORD) == 303


# -- 6: sessions end with their user ---------------------------------------------------------------


async def _session_after(
    aiohttp_client: MakeClient, redis_url: str, tmp_path: Path, users: list[dict[str, str]]
) -> int:
    """Log in as alice, restart with `users`, and return the status of the old cookie's request."""
    first = await aiohttp_client(create_app(gateway_settings(redis_url, tmp_path / "a")))
    await login(first)
    cookie = first.session.cookie_jar.filter_cookies(first.make_url("/dashboard"))
    token = cookie["smsguard_session"].value
    assert (await first.get("/dashboard/api/overrides")).status == 200
    settings = gateway_settings(redis_url, tmp_path / "b", users=users)
    second = await aiohttp_client(create_app(settings))
    resp = await second.get("/dashboard/api/overrides", cookies={"smsguard_session": token})
    return resp.status


async def test_removed_user_session_is_refused(
    aiohttp_client: MakeClient, redis_url: str, tmp_path: Path
) -> None:
    """A session of a user who is no longer in dashboard.users is refused."""
    bob = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pw-bob")
    users = [{"username": "bob", "password_hash": bob}]
    assert await _session_after(aiohttp_client, redis_url, tmp_path, users) == 401


async def test_session_ends_when_the_password_changes(
    aiohttp_client: MakeClient, redis_url: str, tmp_path: Path
) -> None:
    """A session from before the user's password hash changed is refused."""
    new = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("new password")
    users = [{"username": USER, "password_hash": new}]
    assert await _session_after(aiohttp_client, redis_url, tmp_path, users) == 401


async def test_session_survives_a_restart_with_the_same_user(
    aiohttp_client: MakeClient, redis_url: str, tmp_path: Path
) -> None:
    """An unchanged user keeps their session across a restart."""
    users = [{"username": USER, "password_hash": FAST_HASH}]
    assert await _session_after(aiohttp_client, redis_url, tmp_path, users) == 200


# -- 7: override guard rails and masked long prefixes ----------------------------------------------


async def test_broad_cidr_needs_a_confirmation(client: Client) -> None:
    """Blocking a /6 is refused until the broad-target box is ticked."""
    await login(client)
    resp = await _block(client, "cidr", "8.0.0.0/6")
    assert resp.status == 400
    assert "broader than /8" in await resp.text()
    resp = await _block(client, "cidr", "8.0.0.0/6", confirm_broad="yes")
    assert resp.status == 303


async def test_long_prefix_is_masked_everywhere_but_still_matches(client: Client) -> None:
    """A 12-digit prefix override is shown masked on pages, audit, API and notice, and blocks."""
    await login(client)
    resp = await _block(client, "prefix", "447400123456")
    assert resp.status == 303
    assert "4474001234" not in resp.headers["Location"]
    for path in (resp.headers["Location"], "/dashboard/actions", "/dashboard/api/overrides"):
        body = await (await client.get(path)).text()
        assert "447400123456" not in body, path
        assert "+44*******456" in body, path
    assert await send(client, "+447400123456") != 200


# -- 8: notices ------------------------------------------------------------------------------------


async def test_notice_text_from_the_query_is_not_shown(client: Client) -> None:
    """Only known notice codes are shown; free text in ?notice= is ignored."""
    await login(client)
    text = await (await client.get("/dashboard/actions?notice=Call+us+on+0800")).text()
    assert "Call us" not in text
    text = await (await client.get("/dashboard/actions?notice=override-applied")).text()
    assert "Override applied on every instance." in text


# -- 9: HSTS ---------------------------------------------------------------------------------------


async def test_hsts_is_sent_when_cookies_are_secure(make_gateway: MakeGateway) -> None:
    """With cookie_secure (HTTPS) dashboard responses carry Strict-Transport-Security."""
    client = await make_gateway(cookie_secure=True)
    for path in ("/dashboard/login", "/dashboard"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.headers["Strict-Transport-Security"] == "max-age=31536000", path


async def test_no_hsts_on_plain_http_development(client: Client) -> None:
    """With cookie_secure false (plain-http development) no HSTS header is sent."""
    resp = await client.get("/dashboard/login")
    assert "Strict-Transport-Security" not in resp.headers
