"""POST /sms end to end: Auth0-signed requests through intake, policy and the provider router
to real HTTP servers playing Twilio and Vonage, with a real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.appkeys import PIPELINE
from gateway.providers.http import basic_auth
from tests.auth0 import action_payload, auth_headers, legacy_payload
from tests.pipeline.conftest import Fake, MakeGateway
from tests.providers.fakes import (
    TWILIO_CREATED,
    TWILIO_PATH,
    TWILIO_SERVER_ERROR,
    TWILIO_SID,
    TWILIO_TOKEN,
    VONAGE_SERVER_ERROR,
    Reply,
)


async def test_legacy_request_reaches_twilio(make_gateway: MakeGateway, twilio: Fake) -> None:
    """A legacy sms_gateway request signed like Auth0's is sent through Twilio with its form and
    credentials, and answered 200."""
    client = await make_gateway()
    resp = await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "accepted"
    (sent,) = twilio[0].received
    assert sent.path == TWILIO_PATH
    assert sent.headers["Authorization"] == basic_auth(TWILIO_SID, TWILIO_TOKEN)
    assert sent.form["To"] == "+447400123456"
    assert sent.form["From"] == "+15005550006"
    assert sent.form["Body"] == "Your verification code is: 123456"


async def test_action_shape_is_sent(make_gateway: MakeGateway, twilio: Fake) -> None:
    """The custom-phone-provider Action's payload is accepted and sent."""
    client = await make_gateway()
    resp = await client.post("/sms", json=action_payload(), headers=auth_headers())
    assert resp.status == 200, await resp.text()
    assert len(twilio[0].received) == 1


async def test_unauthenticated_is_401(make_gateway: MakeGateway, twilio: Fake) -> None:
    """A request without Auth0's token is refused with 401 and nothing is sent."""
    client = await make_gateway()
    resp = await client.post("/sms", json=legacy_payload())
    assert resp.status == 401
    assert (await resp.json())["field"] == "Authorization"
    assert twilio[0].received == []


async def test_bad_number_is_400_naming_field(make_gateway: MakeGateway) -> None:
    """An unparseable number is a 400 whose JSON names the field."""
    client = await make_gateway()
    resp = await client.post(
        "/sms", json=legacy_payload("+44 not a number"), headers=auth_headers()
    )
    assert resp.status == 400
    assert (await resp.json())["field"] == "recipient"


async def test_malformed_json_is_400(make_gateway: MakeGateway) -> None:
    """A body that is not JSON is a 400 naming the body."""
    client = await make_gateway()
    resp = await client.post("/sms", data=b"{nope", headers=auth_headers())
    assert resp.status == 400
    assert (await resp.json())["field"] == "body"


async def test_non_json_content_type_is_415(make_gateway: MakeGateway) -> None:
    """A form-encoded or text body is refused with 415."""
    client = await make_gateway()
    headers = {**auth_headers(), "Content-Type": "application/x-www-form-urlencoded"}
    resp = await client.post("/sms", data=b"recipient=1", headers=headers)
    assert resp.status == 415


async def test_body_over_8_kib_is_413(make_gateway: MakeGateway) -> None:
    """A body over 8 KiB is refused with 413 before it is parsed."""
    client = await make_gateway()
    payload = legacy_payload()
    payload["body"] = "x" * 9000
    resp = await client.post("/sms", json=payload, headers=auth_headers())
    assert resp.status == 413


async def test_failover_when_first_provider_errors(
    make_gateway: MakeGateway,
    twilio: Fake,
    vonage: Fake,
) -> None:
    """When Twilio answers 500, Vonage sends the message: exactly one SMS goes out."""
    twilio[0].replies[:] = [TWILIO_SERVER_ERROR]
    client = await make_gateway()
    resp = await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    assert resp.status == 200, await resp.text()
    assert len(twilio[0].received) == 1, "Twilio was tried first"
    assert vonage[0].accepted == 1
    assert vonage[0].received[0].form["to"] == "447400123456"


async def test_failover_when_first_provider_hangs(
    make_gateway: MakeGateway,
    twilio: Fake,
    vonage: Fake,
) -> None:
    """When Twilio hangs past its read timeout, Vonage sends within the deadline."""
    twilio[0].replies[:] = [Reply(hang=True)]
    client = await make_gateway(intake={"deadline_s": 5})
    resp = await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    assert resp.status == 200, await resp.text()
    assert len(twilio[0].received) == 1, "Twilio was tried first"
    assert vonage[0].accepted == 1


async def test_every_provider_failing_is_502(
    make_gateway: MakeGateway,
    twilio: Fake,
    vonage: Fake,
) -> None:
    """When every provider fails, Auth0 gets 502."""
    twilio[0].replies[:] = [TWILIO_SERVER_ERROR]
    vonage[0].replies[:] = [VONAGE_SERVER_ERROR]
    client = await make_gateway()
    resp = await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    assert resp.status == 502


async def test_health_ready_and_metrics(make_gateway: MakeGateway) -> None:
    """/healthz, /readyz (Redis, rules, providers) and /metrics answer."""
    client = await make_gateway()
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200, body
    assert {"redis", "providers"} <= set(body["checks"])
    await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    metrics = await (await client.get("/metrics")).text()
    assert 'smsguard_requests_total{outcome="sent"} 1.0' in metrics


class _BrokenPolicy:
    """A policy with a defect, to see how the path fails."""

    async def decide(self, sms: Any, signals: Any) -> Any:
        raise RuntimeError("defect")

    async def settle(self, sms: Any, signals: Any, decision: Any, sent: bool) -> None:
        return None


async def test_defect_in_a_stage_fails_closed(make_gateway: MakeGateway, twilio: Fake) -> None:
    """A stage that raises unexpectedly yields a JSON 500 and nothing is sent unchecked."""
    client = await make_gateway()
    client.app[PIPELINE].policy = _BrokenPolicy()
    resp = await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    assert resp.status == 500
    assert (await resp.json()) == {"error": "internal error"}
    assert twilio[0].received == []


class _SlowSettle:
    """The real policy, whose post-send bookkeeping is slow (a loaded Redis)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    async def decide(self, sms: Any, signals: Any) -> Any:
        return await self.policy.decide(sms, signals)

    async def settle(self, sms: Any, signals: Any, decision: Any, sent: bool) -> None:
        await asyncio.sleep(0.9)
        await self.policy.settle(sms, signals, decision, sent)


async def test_sent_near_the_deadline_is_still_200(make_gateway: MakeGateway, twilio: Fake) -> None:
    """A message a provider accepted just before the deadline is answered 200, even when the
    bookkeeping after it runs past the deadline: a 504 would make the user ask for another SMS."""
    twilio[0].replies[:] = [Reply(201, TWILIO_CREATED.json, delay=0.3)]
    client = await make_gateway(intake={"deadline_s": 1.0}, routes={"default": ["twilio-main"]})
    client.app[PIPELINE].policy = _SlowSettle(client.app[PIPELINE].policy)
    resp = await client.post("/sms", json=legacy_payload(), headers=auth_headers())
    assert resp.status == 200, await resp.text()
    assert twilio[0].accepted == 1
