"""deploy/auth0/pin-step.js run by node against a fake post-login `api`, talking to the gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestServer

from gateway.clock import FakeClock
from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import SHARED_SECRET, TENANT, FakeAuth0
from tests.pin.flow import continue_link, open_pin, submit

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "deploy" / "auth0" / "pin-step.js"
HARNESS = Path(__file__).with_name("run_pin_action.js")
PIN_URL = "https://sms.example.com/pin"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def event(
    connection: str = "sms",
    methods: list[dict[str, Any]] | None = None,
    protocol: str = "oidc-basic-profile",
    **secrets: str,
) -> dict[str, Any]:
    return {
        "user": {"user_id": "sms|user-1"},
        "connection": {"name": connection, "strategy": "sms"},
        "request": {"ip": "203.0.113.9"},
        "transaction": {"ui_locales": ["en"], "prompt": [], "protocol": protocol},
        "authentication": {"methods": methods or [{"name": "sms", "timestamp": "2026-01-01"}]},
        "secrets": {"SMSGUARD_PIN_URL": PIN_URL, "SMSGUARD_PIN_SECRET": SHARED_SECRET, **secrets},
    }


def answer(clock: FakeClock, **claims: Any) -> dict[str, str]:
    """The /continue query of an answer signed with the shared secret (state "s")."""
    import jwt

    payload = {
        "iss": "smsguard",
        "sub": "sms|user-1",
        "state": "s",
        "outcome": "verified",
        "iat": int(clock.time()),
        "exp": int(clock.time()) + 60,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return {"state": "s", "session_token": jwt.encode(payload, SHARED_SECRET, algorithm="HS256")}


def run(handler: str, ev: dict[str, Any], now: float, **extra: Any) -> dict[str, Any]:
    """Run one handler of the Action; return its recorded api calls and error."""
    data = {"handler": handler, "event": ev, "tenant": TENANT, "now": int(now), **extra}
    done = subprocess.run(
        [str(NODE), str(HARNESS), str(ACTION)],
        input=json.dumps(data).encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def calls(result: dict[str, Any], method: str) -> list[list[Any]]:
    return [c["args"] for c in result["calls"] if c["method"] == method]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_sms_login_is_sent_to_the_pin_page_with_a_token_the_gateway_accepts(
    make_gateway: MakeGateway, clock: FakeClock
) -> None:
    """onExecutePostLogin redirects SMS logins to /pin; the gateway accepts its session token."""
    result = run("execute", event(), clock.time(), state="st-action")
    (target,) = calls(result, "redirect.sendUserTo")
    assert target[0].startswith(PIN_URL + "?")
    query = query_of(target[0])
    client = await make_gateway()
    form = await open_pin(client, query["session_token"], state=query["state"])
    assert form.status == 200
    assert form.mode == "enroll"


async def test_continue_sets_claims_after_the_gateway_says_verified(
    make_gateway: MakeGateway, clock: FakeClock
) -> None:
    """The gateway's answer token passes validateToken; both tokens get pin_verified claims."""
    client = await make_gateway()
    (target,) = calls(run("execute", event(), clock.time(), state="st-2"), "redirect.sendUserTo")
    query = query_of(target[0])
    form = await open_pin(client, query["session_token"], state=query["state"])
    resp = await submit(client, form, "480273", "480273")
    answer = query_of(resp.headers["Location"])
    result = run("continue", event(), clock.time(), query=answer)
    assert result["error"] is None
    assert calls(result, "access.deny") == []
    assert ["https://smsguard/pin_verified", True] in calls(result, "idToken.setCustomClaim")
    assert ["https://smsguard/pin_verified", True] in calls(result, "accessToken.setCustomClaim")
    assert ["https://smsguard/pin_verified_at", int(clock.time())] in calls(
        result, "accessToken.setCustomClaim"
    )
    assert calls(result, "authentication.recordMethod") == [[PIN_URL]]
    # The PIN was set just now: first use is marked for the app.
    assert ["https://smsguard/pin_enrolled_at", int(clock.time())] in calls(
        result, "idToken.setCustomClaim"
    )


async def test_continue_denies_a_locked_pin(
    make_gateway: MakeGateway, auth0: tuple[FakeAuth0, TestServer], clock: FakeClock
) -> None:
    """A lockout answer makes onContinuePostLogin call api.access.deny and set no claim."""
    client = await make_gateway(max_failures=2)
    enroll = await open_pin(client, auth0[0].session_token())
    await submit(client, enroll, "480273", "480273")
    form = await open_pin(client, auth0[0].session_token(), state="st-3")
    await submit(client, form, "111290")
    locked = await submit(client, form, "111291")
    assert locked.status == 423
    answer = query_of(continue_link(await locked.text()))
    result = run("continue", event(), clock.time(), query=answer)
    (deny,) = calls(result, "access.deny")
    assert "locked" in deny[0]
    assert calls(result, "idToken.setCustomClaim") == []


def test_continue_denies_a_forged_answer(clock: FakeClock) -> None:
    """An answer signed with another secret fails validateToken and is denied."""
    import jwt

    token = jwt.encode(
        {"sub": "sms|user-1", "state": "s", "outcome": "verified", "exp": int(clock.time()) + 60},
        "some-other-secret-that-is-long-enough-000",
        algorithm="HS256",
    )
    result = run("continue", event(), clock.time(), query={"state": "s", "session_token": token})
    assert len(calls(result, "access.deny")) == 1
    assert calls(result, "idToken.setCustomClaim") == []


def test_continue_denies_an_answer_for_another_user(clock: FakeClock) -> None:
    """A valid answer whose sub is another user is denied."""
    import jwt

    token = jwt.encode(
        {
            "sub": "sms|someone-else",
            "state": "s",
            "outcome": "verified",
            "exp": int(clock.time()) + 60,
        },
        SHARED_SECRET,
        algorithm="HS256",
    )
    result = run("continue", event(), clock.time(), query={"state": "s", "session_token": token})
    assert len(calls(result, "access.deny")) == 1


def test_other_connections_are_left_alone(clock: FakeClock) -> None:
    """A login through a connection not in the list is neither redirected nor denied."""
    result = run("execute", event(connection="google-oauth2"), clock.time())
    assert result == {"calls": [], "error": None}


def test_session_that_passed_skips_the_step_and_keeps_the_claims(clock: FakeClock) -> None:
    """A session with the recorded PIN method is not redirected again; claims are still set."""
    methods = [{"name": PIN_URL, "timestamp": "2026-11-22T10:00:00.000Z"}]
    result = run("execute", event(methods=methods), clock.time())
    assert calls(result, "redirect.sendUserTo") == []
    assert ["https://smsguard/pin_verified", True] in calls(result, "idToken.setCustomClaim")


def test_missing_secrets_fail_loudly(clock: FakeClock) -> None:
    """Without SMSGUARD_PIN_URL/SECRET the Action throws a message naming them."""
    ev = event()
    ev["secrets"] = {}
    assert "SMSGUARD_PIN_SECRET" in (run("execute", ev, clock.time())["error"] or "")


def test_verified_answer_sets_no_enrolled_claim(clock: FakeClock) -> None:
    """A plain verification (not a first enrolment) carries no pin_enrolled_at claim."""
    result = run("continue", event(), clock.time(), query=answer(clock))
    claims = [c[0] for c in calls(result, "idToken.setCustomClaim")]
    assert claims == ["https://smsguard/pin_verified", "https://smsguard/pin_verified_at"]


def test_continue_denies_an_answer_from_another_issuer(clock: FakeClock) -> None:
    """A token signed with the shared secret but not issued by smsguard (iss) is denied."""
    result = run("continue", event(), clock.time(), query=answer(clock, iss="tenant.example"))
    assert len(calls(result, "access.deny")) == 1
    assert calls(result, "idToken.setCustomClaim") == []


def test_continue_denies_an_answer_without_outcome(clock: FakeClock) -> None:
    """An answer with no outcome is denied, never read as success."""
    result = run("continue", event(), clock.time(), query=answer(clock, outcome=None))
    assert len(calls(result, "access.deny")) == 1
    assert calls(result, "idToken.setCustomClaim") == []


def test_refresh_token_keeps_the_claims_the_session_earned(clock: FakeClock) -> None:
    """A refresh-token exchange in a session that passed the PIN step gets the claims again."""
    methods = [{"name": PIN_URL, "timestamp": "2026-11-22T10:00:00.000Z"}]
    result = run("execute", event(methods=methods, protocol="oauth2-refresh-token"), clock.time())
    assert result["error"] is None
    assert calls(result, "redirect.sendUserTo") == []
    assert ["https://smsguard/pin_verified", True] in calls(result, "accessToken.setCustomClaim")


def test_refresh_token_without_the_step_gets_no_claims_by_default(clock: FakeClock) -> None:
    """Without a passed PIN step a refresh-token exchange is not redirected and gets no claim."""
    result = run("execute", event(protocol="oauth2-refresh-token"), clock.time())
    assert result == {"calls": [], "error": None}


@pytest.mark.parametrize("protocol", ["oauth2-refresh-token", "oauth2-password"])
def test_non_interactive_flow_is_denied_when_configured(clock: FakeClock, protocol: str) -> None:
    """SMSGUARD_NON_INTERACTIVE=deny refuses flows that cannot show the PIN page."""
    ev = event(protocol=protocol, SMSGUARD_NON_INTERACTIVE="deny")
    result = run("execute", ev, clock.time())
    assert result["error"] is None
    (deny,) = calls(result, "access.deny")
    assert "interaction_required" in deny[0]
    assert calls(result, "idToken.setCustomClaim") == []


def test_resource_owner_grant_is_skipped_without_claims(clock: FakeClock) -> None:
    """An embedded passwordless/password grant (oauth2-password) gets tokens without the claim."""
    result = run("execute", event(protocol="oauth2-password"), clock.time())
    assert result == {"calls": [], "error": None}


def test_bad_non_interactive_setting_fails_loudly(clock: FakeClock) -> None:
    """An unknown SMSGUARD_NON_INTERACTIVE value is an error naming the secret."""
    result = run("execute", event(SMSGUARD_NON_INTERACTIVE="allow"), clock.time())
    assert "SMSGUARD_NON_INTERACTIVE" in (result["error"] or "")


def test_short_secret_fails_loudly(clock: FakeClock) -> None:
    """An SMSGUARD_PIN_SECRET under 32 bytes is refused, as pin.redirect_secret is."""
    ev = event(SMSGUARD_PIN_SECRET="short-secret")
    assert "at least 32 bytes" in (run("execute", ev, clock.time())["error"] or "")
