"""The browser PIN step end to end: Auth0's session token in, the tenant's /continue out."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.settings import build_settings
from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import TENANT, FakeAuth0
from tests.pin.flow import continue_link, open_pin, resume, submit

Auth0 = tuple[FakeAuth0, TestServer]
GOOD = "480273"


async def enroll(client: Any, fake: FakeAuth0, sub: str = "sms|user-1", pin: str = GOOD) -> None:
    form = await open_pin(client, fake.session_token(sub))
    answer = await resume(client, await submit(client, form, pin, pin))
    assert answer["outcome"] == "enrolled"


async def test_pin_off_answers_404_and_says_why(aiohttp_client: Any, redis_url: str) -> None:
    """With pin.enabled unset the gateway starts, /pin is 404, and one log line says why."""
    with capture_logs() as logs:
        app = create_app(build_settings({"redis": {"url": redis_url}}, environ={}))
    client = await aiohttp_client(app)
    assert (await client.get("/pin")).status == 404
    assert (await client.post("/v1/pin/verify")).status == 404
    assert [e["event"] for e in logs if e.get("event", "").startswith("pin")] == ["pin step off"]


async def test_new_user_sees_enrollment_with_policy(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """A user without a PIN gets the enrollment form: PIN, confirmation, the policy explained."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token())
    assert form.status == 200
    assert form.mode == "enroll"
    assert 'name="confirm"' in form.text
    assert "Use at least 6 digits." in form.text
    assert 'inputmode="numeric"' in form.text
    assert 'autocomplete="new-password"' in form.text


async def test_enrollment_resumes_login_with_enrolled_outcome(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """Choosing a good PIN redirects to /continue with a token the tenant accepts (state kept)."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token(), state="abc-state")
    answer = await resume(client, await submit(client, form, GOOD, GOOD))
    assert answer["status"] == 200
    payload = auth0[0].continued[-1]
    assert (payload["state"], payload["sub"], payload["outcome"]) == (
        "abc-state",
        "sms|user-1",
        "enrolled",
    )


async def test_enrolled_user_verifies_and_resumes(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """An enrolled user gets the verification form; the right PIN resumes with `verified`."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    form = await open_pin(client, auth0[0].session_token(), state="second-login")
    assert form.mode == "verify"
    assert 'name="confirm"' not in form.text
    # Not one-time-code: phones would offer the SMS code, which then counts as a wrong PIN.
    assert 'autocomplete="current-password"' in form.text
    answer = await resume(client, await submit(client, form, GOOD))
    assert answer["outcome"] == "verified"
    assert auth0[0].continued[-1]["state"] == "second-login"


async def test_mismatched_confirmation_is_refused(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """Enrollment with two different PINs shows an announced error and stores nothing."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token())
    resp = await submit(client, form, GOOD, "480274")
    text = await resp.text()
    assert resp.status == 422
    assert 'role="alert">The two PINs are not the same.' in text
    assert (await open_pin(client, auth0[0].session_token())).mode == "enroll"


async def test_guessable_pin_is_refused_with_its_reason(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """A sequence is refused with the sequence message, linked to the field."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token())
    resp = await submit(client, form, "123456", "123456")
    text = await resp.text()
    assert resp.status == 422
    assert "consecutive digits" in text
    assert 'aria-describedby="pin-error pin-policy"' in text
    assert 'aria-invalid="true"' in text


async def test_wrong_pin_is_announced_with_attempts_left(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """A wrong PIN re-shows the form with role=alert and the attempts left."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    form = await open_pin(client, auth0[0].session_token())
    resp = await submit(client, form, "999111")
    assert resp.status == 422
    assert "4 attempts left" in await resp.text()


async def test_brute_force_stops_at_the_limit(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """Five wrong PINs lock the PIN: even the right one is then refused with a denial link."""
    fake = auth0[0]
    client = await make_gateway()
    await enroll(client, fake)
    form = await open_pin(client, fake.session_token())
    statuses = [(await submit(client, form, f"90817{i}")).status for i in range(5)]
    assert statuses == [422, 422, 422, 422, 423]
    resp = await submit(client, form, GOOD)
    text = await resp.text()
    assert resp.status == 423
    assert "locked" in text
    async with client.session.get(continue_link(text)) as answer:
        assert (await answer.json())["outcome"] == "locked"


async def test_new_sms_login_does_not_unlock(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """After the lock, a fresh login (new session token, new state) still shows the lock."""
    fake = auth0[0]
    client = await make_gateway(max_failures=3)
    await enroll(client, fake)
    form = await open_pin(client, fake.session_token())
    for i in range(3):
        await submit(client, form, f"90817{i}")
    again = await open_pin(client, fake.session_token(), state="new-login")
    assert again.status == 423
    assert "Contact support" in again.text


async def test_success_before_the_lock_resets_the_count(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """Four wrong then the right PIN clears the count: four more wrong do not lock."""
    fake = auth0[0]
    client = await make_gateway()
    await enroll(client, fake)
    form = await open_pin(client, fake.session_token())
    for i in range(4):
        await submit(client, form, f"90817{i}")
    assert (await submit(client, form, GOOD)).status == 303
    form = await open_pin(client, fake.session_token())
    statuses = [(await submit(client, form, f"90817{i}")).status for i in range(4)]
    assert statuses == [422] * 4


async def test_early_retry_is_told_to_wait(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """After a failure the next try must wait (growing delay); the page says how long."""
    fake = auth0[0]
    client = await make_gateway(delay_base_s=2)
    await enroll(client, fake)
    form = await open_pin(client, fake.session_token())
    await submit(client, form, "908170")
    early = await submit(client, form, GOOD)
    assert early.status == 429
    assert early.headers["Retry-After"] == "2"
    assert "Wait 2 seconds" in await early.text()
    clock.advance(2.5)
    assert (await submit(client, form, GOOD)).status == 303


async def test_failures_are_limited_per_ip(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """One client guessing across many users hits the per-IP limit."""
    fake = auth0[0]
    client = await make_gateway(ip_max_failures=3)
    for n in range(3):
        await enroll(client, fake, sub=f"sms|victim-{n}")
        form = await open_pin(client, fake.session_token(f"sms|victim-{n}"))
        assert (await submit(client, form, "908170")).status == 422
    await enroll(client, fake, sub="sms|victim-9")
    form = await open_pin(client, fake.session_token("sms|victim-9"))
    resp = await submit(client, form, GOOD)
    assert resp.status == 429
    assert "from this network" in await resp.text()


async def test_forged_first_forwarded_for_line_does_not_escape_the_ip_limit(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """With a proxy that adds its own X-Forwarded-For line, a forged first line changes nothing."""
    fake = auth0[0]
    client = await make_gateway(ip_max_failures=3, trusted_proxy_hops=1)
    statuses = []
    for n in range(5):
        form = await open_pin(client, fake.session_token(f"sms|xff-{n}"))
        data = {**form.fields, "pin": "908170", "mode": "verify"}
        headers = [("X-Forwarded-For", f"198.51.100.{n}"), ("X-Forwarded-For", "203.0.113.5")]
        resp = await client.post("/pin", data=data, headers=headers, allow_redirects=False)
        statuses.append(resp.status)
    assert statuses == [422, 422, 422, 429, 429]


async def test_forged_session_token_is_refused(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A session token signed with another secret gets the invalid-link page, no continue link."""
    client = await make_gateway()
    form = await open_pin(
        client, auth0[0].session_token(secret="not-the-shared-secret-at-all-0123456789")
    )
    assert form.status == 400
    assert "not valid" in form.text
    assert "pin-submit" not in form.text


async def test_other_tenant_issuer_is_refused(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A session token whose iss is another tenant is refused."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token(iss="evil.example"))
    assert form.status == 400


async def test_issuer_written_as_url_is_the_same_tenant(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """iss "https://tenant/" (custom-domain style) and the bare domain name the same tenant."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token(iss=f"https://{TENANT}/"))
    assert form.status == 200


async def test_expired_login_shows_reason_and_denial_link(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """An expired session token shows why, with a link resuming the login as `expired`."""
    fake = auth0[0]
    client = await make_gateway()
    token = fake.session_token(ttl=60)
    clock.advance(600)
    form = await open_pin(client, token)
    assert form.status == 401
    async with client.session.get(continue_link(form.text)) as answer:
        assert (await answer.json())["outcome"] == "expired"


async def test_post_without_csrf_cookie_is_refused(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A cross-site form post (no cookie from our page) is refused and nothing is stored."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token())
    client.session.cookie_jar.clear()
    resp = await submit(client, form, GOOD, GOOD)
    assert resp.status == 403
    assert "form has expired" in await resp.text()


async def test_csrf_token_is_bound_to_the_login(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A form token from one login (state) does not work for another."""
    client = await make_gateway()
    first = await open_pin(client, auth0[0].session_token(), state="one")
    second = await open_pin(client, auth0[0].session_token(), state="two")
    resp = await submit(client, second, GOOD, GOOD, csrf=first.fields["csrf"])
    assert resp.status == 403


async def test_page_carries_strict_security_headers(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """CSP with frame-ancestors none, DENY framing, no-store, no referrer, nosniff."""
    client = await make_gateway()
    resp = await client.get(
        "/pin", params={"session_token": auth0[0].session_token(), "state": "s"}
    )
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert str(auth0[1].make_url("")).rstrip("/") in csp  # the form may resume at the tenant
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_page_language_follows_accept_language(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """An unsupported language falls back to English; the page declares its language."""
    client = await make_gateway()
    resp = await client.get(
        "/pin",
        params={"session_token": auth0[0].session_token(), "state": "s"},
        headers={"Accept-Language": "xx-YY, en;q=0.5"},
    )
    assert '<html lang="en">' in await resp.text()


async def test_enroll_form_cannot_replace_an_existing_pin(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """Posting mode=enroll for an enrolled user stores nothing and shows verification."""
    fake = auth0[0]
    client = await make_gateway()
    await enroll(client, fake)
    form = await open_pin(client, fake.session_token())
    resp = await submit(client, form, "583920", "583920", mode="enroll")
    assert resp.status == 409
    assert 'name="mode" value="verify"' in await resp.text()
    form = await open_pin(client, fake.session_token())
    assert (await submit(client, form, GOOD)).status == 303
