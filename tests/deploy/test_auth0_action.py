"""deploy/auth0/custom-phone-provider.js run by node against a real server playing smsguard."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "deploy" / "auth0" / "custom-phone-provider.js"
HARNESS = Path(__file__).resolve().parent / "run_action.js"
NODE = shutil.which("node")
SECRET = "action-shared-secret-0123456789-abcdef"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the Action runs on it")


def make_event(url: str, **secrets: str) -> dict[str, Any]:
    """A custom-phone-provider event as Auth0 documents it."""
    return {
        "notification": {
            "recipient": "+44 7700 900123",
            "as_text": "Your verification code is: 123456",
            "as_voice": "Your verification code is 1 2 3 4 5 6",
            "code": "123456",
            "from": "+15555555555",
            "locale": "en",
            "delivery_method": "text",
            "message_type": "otp_verify",
        },
        "request": {
            "ip": "203.0.113.7",
            "method": "POST",
            "hostname": "acme.eu.auth0.com",
            "language": "en-GB",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "geoip": {"countryCode": "GB", "countryCode3": "GBR", "countryName": "United Kingdom"},
        },
        "client": {"client_id": "spa-client-1", "name": "Acme SPA"},
        "connection": {"name": "sms", "strategy": "sms"},
        "tenant": {"id": "acme"},
        "transaction": {"correlation_id": "corr-42"},
        "secrets": {"SMSGUARD_URL": url, "SMSGUARD_SECRET": SECRET} | secrets,
    }


@dataclass
class FakeGateway:
    """Plays smsguard's POST /sms: answers `status` with `answer`, or never answers when hanging."""

    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"status": "sent"})
    hang: bool = False
    seen: list[tuple[CIMultiDict[str], Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/sms", self.sms)
        return app

    async def sms(self, request: web.Request) -> web.Response:
        self.seen.append((CIMultiDict(request.headers), await request.json()))
        if self.hang:
            await self.release.wait()
        return web.json_response(self.answer, status=self.status)


@dataclass
class Outcome:
    calls: list[dict[str, str]]
    error: str | None


async def run_action(event: dict[str, Any]) -> Outcome:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE, str(HARNESS), str(ACTION),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate(json.dumps(event).encode())
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    return Outcome(result["calls"], result["error"])


async def serve(aiohttp_server: Any, fake: FakeGateway) -> str:
    server: TestServer = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


async def test_sends_the_payload_smsguard_accepts(aiohttp_server: Any) -> None:
    """The Action POSTs recipient, body, sender, req and the optional fields to /sms."""
    fake = FakeGateway()
    base = await serve(aiohttp_server, fake)
    outcome = await run_action(make_event(base))
    assert outcome == Outcome([], None)
    ((_, body),) = fake.seen
    assert body == {
        "recipient": "+44 7700 900123",
        "body": "Your verification code is: 123456",
        "sender": "+15555555555",
        "req": {
            "ip": "203.0.113.7",
            "method": "POST",
            "hostname": "acme.eu.auth0.com",
            "language": "en-GB",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "geoip": {"countryCode": "GB", "countryCode3": "GBR", "countryName": "United Kingdom"},
        },
        "message_type": "otp_verify",
        "locale": "en",
        "delivery_method": "text",
        "client_id": "spa-client-1",
        "correlation_id": "corr-42",
    }


async def test_headers_carry_json_and_request_id(aiohttp_server: Any) -> None:
    """The request is JSON and carries the transaction's correlation id as X-Request-Id."""
    fake = FakeGateway()
    await run_action(make_event(await serve(aiohttp_server, fake)))
    ((headers, _),) = fake.seen
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-Id"] == "corr-42"
    assert headers["Authorization"].startswith("Bearer ")


async def test_token_is_hs256_with_default_audience_and_subject(aiohttp_server: Any) -> None:
    """The token verifies with the secret (HS256); aud urn:MySmsGateway, sub urn:Auth0."""
    fake = FakeGateway()
    await run_action(make_event(await serve(aiohttp_server, fake)))
    ((headers, _),) = fake.seen
    token = headers["Authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="urn:MySmsGateway",
        options={"require": ["exp", "iat", "aud", "sub"]},
    )  # fmt: skip
    assert claims["sub"] == "urn:Auth0"
    assert claims["exp"] - claims["iat"] == 60


async def test_token_uses_configured_audience_subject_and_base64_secret(
    aiohttp_server: Any,
) -> None:
    """SMSGUARD_AUDIENCE/SUBJECT set the claims; a base64url secret is decoded before signing."""
    raw_key = b"\x00\xffa-binary-key-of-thirty-two-bytes\xfe"
    encoded = base64.urlsafe_b64encode(raw_key).decode().rstrip("=")
    fake = FakeGateway()
    event = make_event(
        await serve(aiohttp_server, fake), SMSGUARD_AUDIENCE="urn:acme-sms",
        SMSGUARD_SUBJECT="urn:acme", SMSGUARD_SECRET=encoded,
        SMSGUARD_SECRET_BASE64_ENCODED="true",
    )  # fmt: skip
    await run_action(event)
    ((headers, _),) = fake.seen
    token = headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, raw_key, algorithms=["HS256"], audience="urn:acme-sms")
    assert claims["sub"] == "urn:acme"


async def test_url_with_sms_path_is_used_as_is(aiohttp_server: Any) -> None:
    """An SMSGUARD_URL that already ends in /sms is not given a second /sms."""
    fake = FakeGateway()
    base = await serve(aiohttp_server, fake)
    outcome = await run_action(make_event(f"{base}/sms"))
    assert outcome == Outcome([], None)
    assert len(fake.seen) == 1


async def test_policy_refusal_drops_without_retry(aiohttp_server: Any) -> None:
    """A 403 from the policy becomes api.notification.drop with the gateway's reason."""
    fake = FakeGateway(403, {"error": "refused", "rule": "premium-ranges"})
    outcome = await run_action(make_event(await serve(aiohttp_server, fake)))
    assert outcome.error is None
    assert [c["method"] for c in outcome.calls] == ["drop"]
    assert "HTTP 403" in outcome.calls[0]["reason"]
    assert "premium-ranges" in outcome.calls[0]["reason"]


async def test_unauthorised_drops(aiohttp_server: Any) -> None:
    """A 401 (wrong secret) is dropped: retrying cannot fix a configuration error."""
    fake = FakeGateway(401, {"error": "invalid token"})
    outcome = await run_action(make_event(await serve(aiohttp_server, fake)))
    assert [c["method"] for c in outcome.calls] == ["drop"]
    assert "HTTP 401" in outcome.calls[0]["reason"]


async def test_provider_failure_retries(aiohttp_server: Any) -> None:
    """A 502 (every provider failed) becomes api.notification.retry."""
    fake = FakeGateway(502, {"error": "all providers failed"})
    outcome = await run_action(make_event(await serve(aiohttp_server, fake)))
    assert outcome.error is None
    assert [c["method"] for c in outcome.calls] == ["retry"]
    assert "HTTP 502" in outcome.calls[0]["reason"]


async def test_timeout_retries(aiohttp_server: Any) -> None:
    """A gateway that does not answer within SMSGUARD_TIMEOUT_MS leads to a retry."""
    fake = FakeGateway(hang=True)
    base = await serve(aiohttp_server, fake)
    try:
        outcome = await run_action(make_event(base, SMSGUARD_TIMEOUT_MS="300"))
    finally:
        fake.release.set()
    assert [c["method"] for c in outcome.calls] == ["retry"]
    assert "no answer within 300 ms" in outcome.calls[0]["reason"]


async def test_unreachable_gateway_retries() -> None:
    """A connection refused (nothing listening) leads to a retry."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = await run_action(make_event(f"http://127.0.0.1:{port}"))
    assert [c["method"] for c in outcome.calls] == ["retry"]
    assert "cannot reach the gateway" in outcome.calls[0]["reason"]


async def test_voice_is_dropped_by_default(aiohttp_server: Any) -> None:
    """A voice notification is dropped with a reason and nothing is sent to the gateway."""
    fake = FakeGateway()
    event = make_event(await serve(aiohttp_server, fake))
    event["notification"]["delivery_method"] = "voice"
    outcome = await run_action(event)
    assert [c["method"] for c in outcome.calls] == ["drop"]
    assert "voice" in outcome.calls[0]["reason"]
    assert fake.seen == []


async def test_voice_can_be_sent_as_sms(aiohttp_server: Any) -> None:
    """With SMSGUARD_VOICE=sms a voice notification's text goes out as an SMS."""
    fake = FakeGateway()
    event = make_event(await serve(aiohttp_server, fake), SMSGUARD_VOICE="sms")
    event["notification"]["delivery_method"] = "voice"
    outcome = await run_action(event)
    assert outcome == Outcome([], None)
    ((_, body),) = fake.seen
    assert body["delivery_method"] == "text"
    assert body["body"] == "Your verification code is: 123456"


async def test_missing_secrets_drop_with_a_reason() -> None:
    """Without SMSGUARD_URL/SMSGUARD_SECRET the Action drops and says which secrets to set."""
    event = make_event("http://unused")
    event["secrets"] = {}
    outcome = await run_action(event)
    assert [c["method"] for c in outcome.calls] == ["drop"]
    assert "SMSGUARD_SECRET" in outcome.calls[0]["reason"]


async def test_real_gateway_accepts_the_actions_request(
    aiohttp_server: Any, redis_url: str, tmp_path: Path
) -> None:
    """The real gateway accepts the Action's request (JWT, payload) and sends it: no drop/retry."""
    from gateway.app import create_app
    from gateway.settings import build_settings

    # Default settings (sandbox provider) with the Action's secret; an allow-all rule set keeps
    # this about the Action/intake contract, whatever the shipped rules decide for this number.
    (tmp_path / "allow.yaml").write_text("rules: []\ndefault: allow\n")
    settings = build_settings(
        {
            "redis": {"url": redis_url},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"path": str(tmp_path), "watch": False},
            "providers": [{"name": "sandbox", "type": "sandbox", "expose": True}],
        },
        environ={},
    )
    server: TestServer = await aiohttp_server(create_app(settings))
    outcome = await run_action(make_event(str(server.make_url("")).rstrip("/")))
    assert outcome == Outcome([], None)
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/sandbox/messages")) as response,
    ):
        sent = (await response.json())["messages"]
    assert [(m["to"], m["body"]) for m in sent] == [
        ("+447700900123", "Your verification code is: 123456")
    ]
    # The message id is the gateway's own: the correlation id names the request in the log only.
    assert sent[0]["message_id"] != "corr-42"
