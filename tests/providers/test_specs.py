"""The providers' own OpenAPI specs as oracles: our requests are valid, we read their answers.

These read ../shared/providers (skipped with a reason when absent). Every fake Twilio/Vonage server
in the other tests also checks each request it receives against the same specs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema  # type: ignore[import-untyped]
import pytest
from multidict import CIMultiDict

from gateway.clock import SystemClock
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.retry import SendFailed
from gateway.providers.twilio import TwilioProvider
from gateway.providers.vonage import RETRYABLE_STATUS, VonageProvider
from tests.providers.conftest import StartFake
from tests.providers.fakes import (
    MESSAGING_SERVICE_SID,
    TWILIO_SPEC,
    VONAGE_SPEC,
    Received,
    Reply,
    raw_spec,
    spec_problems,
)
from tests.providers.test_twilio import INVALID_TO, twilio
from tests.providers.test_twilio import PATH as TWILIO_PATH
from tests.providers.test_vonage import PATH as VONAGE_PATH
from tests.providers.test_vonage import vonage

pytestmark = pytest.mark.shared

SMS = OutboundSms("msg-1", "+447700900123", "Your code is 123456 ✓", "GB")
TWILIO_OP = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


@pytest.fixture
def specs(shared_dir: Path) -> Path:
    folder = shared_dir / "providers"
    if not (folder / TWILIO_SPEC).is_file() or not (folder / VONAGE_SPEC).is_file():
        pytest.skip(f"{folder} lacks {TWILIO_SPEC} / {VONAGE_SPEC}")
    return folder


def deadline() -> float:
    return time.monotonic() + 10.0


async def test_twilio_request_with_sender_and_callback_is_valid(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """To, From, Body, StatusCallback and basic auth form a valid Twilio create-message request."""
    fake, url = await fake_api(TWILIO_PATH, [Reply(201, {"sid": "SM1"})])
    provider = TwilioProvider(
        twilio(url), session, SystemClock(), Metrics(), public_url="https://gw.example.com"
    )
    await provider.send(SMS, deadline())
    assert spec_problems(TWILIO_SPEC, fake.received[0], specs) == []


async def test_twilio_request_with_messaging_service_is_valid(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """A Messaging Service request (no From) is valid against Twilio's spec."""
    fake, url = await fake_api(TWILIO_PATH, [Reply(201, {"sid": "SM1"})])
    settings = twilio(url, **{"from": None, "messaging_service_sid": MESSAGING_SERVICE_SID})
    await TwilioProvider(settings, session, SystemClock(), Metrics()).send(SMS, deadline())
    assert spec_problems(TWILIO_SPEC, fake.received[0], specs) == []


def test_twilio_oracle_rejects_a_request_without_credentials(specs: Path) -> None:
    """The spec check can fail: a create-message request without basic auth is reported."""
    received = Received(
        "POST",
        TWILIO_PATH.replace("{AccountSid}", "x"),
        {},
        CIMultiDict({"Content-Type": "application/x-www-form-urlencoded"}),
        b"To=%2B447700900123&Body=hi",
        "application/x-www-form-urlencoded",
    )
    assert spec_problems(TWILIO_SPEC, received, specs) != []


async def test_vonage_request_is_valid(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """api_key, api_secret, from, to, text, client-ref and type=unicode form a valid request."""
    fake, url = await fake_api(VONAGE_PATH, [Reply(200, {"messages": [{"status": "0"}]})])
    await VonageProvider(vonage(url), session, SystemClock(), Metrics()).send(SMS, deadline())
    assert spec_problems(VONAGE_SPEC, fake.received[0], specs) == []


def test_vonage_oracle_rejects_a_request_without_api_key(specs: Path) -> None:
    """The spec check can fail: a Vonage request missing the required api_key is reported."""
    received = Received(
        "POST",
        VONAGE_PATH,
        {},
        CIMultiDict(),
        b"from=Acme&to=447700900123&text=hi",
        "application/x-www-form-urlencoded",
    )
    assert spec_problems(VONAGE_SPEC, received, specs) != []


async def test_twilio_documented_201_example_is_read(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """Twilio's own 201 example for creating a message yields its `sid`."""
    op = raw_spec(TWILIO_SPEC, specs)["paths"][TWILIO_OP]["post"]
    example = op["responses"]["201"]["content"]["application/json"]["examples"]["create"]["value"]
    _fake, url = await fake_api(TWILIO_PATH, [Reply(201, example)])
    result = await TwilioProvider(twilio(url), session, SystemClock(), Metrics()).send(
        SMS, deadline()
    )
    assert result.provider_message_id == example["sid"]


def _twilio_error_schema(spec: Any) -> dict[str, Any]:
    """The documented error body schema ({code, message, more_info, status}) in Twilio's spec."""
    for path in spec["paths"].values():
        for op in path.values():
            if not isinstance(op, dict):
                continue
            for response in op.get("responses", {}).values():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if set(schema.get("properties", {})) >= {"code", "message", "more_info", "status"}:
                    return dict(schema)
    raise AssertionError("no error body schema found in Twilio's spec")


async def test_twilio_documented_error_body_is_read(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """An error body valid against Twilio's documented schema yields its code and message."""
    jsonschema.validate(INVALID_TO, _twilio_error_schema(raw_spec(TWILIO_SPEC, specs)))
    _fake, url = await fake_api(TWILIO_PATH, [Reply(400, INVALID_TO)])
    with pytest.raises(SendFailed) as caught:
        await TwilioProvider(twilio(url), session, SystemClock(), Metrics()).send(SMS, deadline())
    assert "21211" in str(caught.value)
    assert "is not a valid phone number" in str(caught.value)


def _example(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v["example"] for k, v in schema["properties"].items() if "example" in v}


async def test_vonage_documented_success_example_is_read(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """A body built from Vonage's documented Message examples is a success with its message-id."""
    schemas = raw_spec(VONAGE_SPEC, specs)["components"]["schemas"]
    message = _example(schemas["Message"])
    body = {"message-count": "1", "messages": [message]}
    _fake, url = await fake_api(VONAGE_PATH, [Reply(200, body)])
    result = await VonageProvider(vonage(url), session, SystemClock(), Metrics()).send(
        SMS, deadline()
    )
    assert result.provider_message_id == message["message-id"]


async def test_vonage_documented_error_example_is_a_refusal(
    specs: Path, fake_api: StartFake, session: aiohttp.ClientSession
) -> None:
    """Vonage's documented ErrorMessage example (status 2, missing params) is not retried."""
    schemas = raw_spec(VONAGE_SPEC, specs)["components"]["schemas"]
    body = {"message-count": "1", "messages": [_example(schemas["ErrorMessage"])]}
    fake, url = await fake_api(VONAGE_PATH, [Reply(200, body)])
    with pytest.raises(SendFailed) as caught:
        await VonageProvider(vonage(url), session, SystemClock(), Metrics()).send(SMS, deadline())
    assert (caught.value.retryable, len(fake.received)) == (False, 1)


def test_vonage_retries_exactly_the_documented_transient_statuses(specs: Path) -> None:
    """A status is retried iff Vonage documents it as throttling, internal error or back-off."""
    errors = raw_spec(VONAGE_SPEC, specs)["x-errors"]
    transient = {
        code
        for code, doc in errors.items()
        if any(
            word in f"{doc.get('description', '')} {doc.get('resolution', '')}".lower()
            for word in ("throttled", "internal error", "back-off")
        )
    }
    assert set(RETRYABLE_STATUS) == transient
