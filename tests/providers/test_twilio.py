"""The Twilio adapter against a real HTTP server playing Twilio's Messages API."""

from __future__ import annotations

import base64
import time
from typing import Any

import aiohttp
import pytest
import structlog

from gateway.clock import SystemClock
from gateway.errors import ProviderError
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.http import UNKNOWN_MESSAGE_ID
from gateway.providers.retry import (
    AUTH,
    BAD_RESPONSE,
    CONNECT,
    REJECTED,
    THROTTLED,
    TIMEOUT,
    SendFailed,
)
from gateway.providers.twilio import TwilioProvider, TwilioSettings
from tests.providers.conftest import StartFake
from tests.providers.fakes import (
    MESSAGING_SERVICE_SID,
    TWILIO_SID,
    TWILIO_SPEC,
    TWILIO_TOKEN,
    Reply,
)

PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
SMS = OutboundSms("msg-1", "+447700900123", "Your code is 123456", "GB")
CREATED = {"sid": "SM" + "ab" * 16, "status": "queued"}
# Twilio's documented error body: {code, message, more_info, status}.
INVALID_TO = {
    "code": 21211,
    "message": "The 'To' number +447700900123 is not a valid phone number.",
    "more_info": "https://www.twilio.com/docs/errors/21211",
    "status": 400,
}


def twilio(base_url: str, **extra: Any) -> TwilioSettings:
    data: dict[str, Any] = {
        "name": "twilio",
        "type": "twilio",
        "base_url": base_url,
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "from": "+15005550006",
        "connect_timeout_s": 5,
        "read_timeout_s": 5,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    return TwilioSettings.model_validate(data | extra)


def adapter(
    settings: TwilioSettings,
    session: aiohttp.ClientSession,
    metrics: Metrics,
    public_url: str | None = None,
) -> TwilioProvider:
    return TwilioProvider(settings, session, SystemClock(), metrics, public_url=public_url)


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


async def test_sends_form_with_basic_auth_and_returns_sid(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A message is posted form-encoded with basic auth, and Twilio's sid comes back."""
    fake, url = await fake_api(PATH, [Reply(201, CREATED)], spec=TWILIO_SPEC)
    result = await adapter(twilio(url), session, metrics).send(SMS, deadline())
    assert (result.provider, result.provider_message_id, result.attempts) == (
        "twilio",
        CREATED["sid"],
        1,
    )
    (req,) = fake.received
    assert req.form == {"To": SMS.to, "Body": SMS.body, "From": "+15005550006"}
    user_pass = base64.b64decode(req.headers["Authorization"].removeprefix("Basic ")).decode()
    assert user_pass == f"{TWILIO_SID}:{TWILIO_TOKEN}"


async def test_status_callback_carries_our_message_id(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """With a public URL, StatusCallback points at our callback route with ?mid=<message id>."""
    fake, url = await fake_api(PATH, [Reply(201, CREATED)], spec=TWILIO_SPEC)
    provider = adapter(twilio(url), session, metrics, public_url="https://gw.example.com/")
    await provider.send(SMS, deadline())
    assert fake.received[0].form["StatusCallback"] == (
        "https://gw.example.com/providers/twilio/status?mid=msg-1"
    )


async def test_configured_status_callback_wins_over_public_url(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """TwilioSettings.status_callback replaces the URL derived from server.public_url."""
    fake, url = await fake_api(PATH, [Reply(201, CREATED)], spec=TWILIO_SPEC)
    settings = twilio(url, status_callback="https://hooks.example.com/twilio?env=prod")
    await adapter(settings, session, metrics, public_url="https://gw.example.com").send(
        SMS, deadline()
    )
    assert fake.received[0].form["StatusCallback"] == (
        "https://hooks.example.com/twilio?env=prod&mid=msg-1"
    )


async def test_messaging_service_replaces_from(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """With only a Messaging Service configured, MessagingServiceSid is sent and From is not."""
    fake, url = await fake_api(PATH, [Reply(201, CREATED)], spec=TWILIO_SPEC)
    settings = twilio(url, **{"from": None, "messaging_service_sid": MESSAGING_SERVICE_SID})
    await adapter(settings, session, metrics).send(SMS, deadline())
    form = fake.received[0].form
    assert form["MessagingServiceSid"] == MESSAGING_SERVICE_SID
    assert "From" not in form


async def test_documented_error_body_is_a_refusal_with_masked_text(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 400 with Twilio's error body is not retried; its code is kept, the number masked."""
    fake, url = await fake_api(PATH, [Reply(400, INVALID_TO)], spec=TWILIO_SPEC)
    with pytest.raises(SendFailed) as caught:
        await adapter(twilio(url), session, metrics).send(SMS, deadline())
    err = caught.value
    assert (err.retryable, err.status, err.kind, len(fake.received)) == (False, 400, REJECTED, 1)
    assert "21211" in str(err)
    assert "+447700900123" not in str(err)


async def test_bad_credentials_are_not_retried(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 401 says our account is wrong: one attempt, kind `auth` (it counts against the circuit)."""
    body = {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401}
    fake, url = await fake_api(PATH, [Reply(401, body)], spec=TWILIO_SPEC)
    with pytest.raises(SendFailed) as caught:
        await adapter(twilio(url), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable, len(fake.received)) == (AUTH, False, 1)


async def test_server_error_then_success_is_retried(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 500 is retried on the same provider; the second attempt's sid is returned."""
    fake, url = await fake_api(PATH, [Reply(500), Reply(201, CREATED)], spec=TWILIO_SPEC)
    result = await adapter(twilio(url), session, metrics).send(SMS, deadline())
    assert (result.provider_message_id, result.attempts, len(fake.received)) == (
        CREATED["sid"],
        2,
        2,
    )
    assert fake.accepted == 1


async def test_gives_up_after_max_attempts(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A provider that keeps answering 503 gets max_attempts tries, then a retryable error."""
    fake, url = await fake_api(PATH, [Reply(503)], spec=TWILIO_SPEC)
    with pytest.raises(ProviderError) as caught:
        await adapter(twilio(url, max_attempts=3), session, metrics).send(SMS, deadline())
    assert (caught.value.retryable, caught.value.status, len(fake.received)) == (True, 503, 3)


async def test_throttled_is_retried_after_retry_after(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 429 with a short Retry-After is retried and then succeeds."""
    replies = [
        Reply(
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            headers={"Retry-After": "0.05"},
        ),
        Reply(201, CREATED),
    ]
    fake, url = await fake_api(PATH, replies, spec=TWILIO_SPEC)
    result = await adapter(twilio(url), session, metrics).send(SMS, deadline())
    assert (result.attempts, len(fake.received)) == (2, 2)


async def test_retry_after_beyond_the_deadline_gives_up_at_once(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A Retry-After that does not fit before the deadline ends this provider's turn at once."""
    reply = Reply(
        429,
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        headers={"Retry-After": "60"},
    )
    fake, url = await fake_api(PATH, [reply], spec=TWILIO_SPEC)
    with pytest.raises(SendFailed) as caught:
        await adapter(twilio(url), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable, len(fake.received)) == (
        THROTTLED,
        True,
        1,
    )


async def test_connection_refused_is_retryable(
    refused_url: str, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """Nothing listening: every attempt fails to connect, and the error says retryable."""
    with pytest.raises(SendFailed) as caught:
        await adapter(twilio(refused_url), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable) == (CONNECT, True)
    assert metrics.provider_errors.labels("twilio", CONNECT)._value.get() == 3


async def test_hanging_provider_times_out_without_a_retry(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A read timeout is not retried on the same provider (it may have accepted the request)."""
    fake, url = await fake_api(PATH, [Reply(hang=True), Reply(201, CREATED)], spec=TWILIO_SPEC)
    provider = adapter(twilio(url, read_timeout_s=0.5, max_attempts=3), session, metrics)
    with pytest.raises(SendFailed) as caught:
        await provider.send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable, len(fake.received)) == (TIMEOUT, False, 1)


async def test_connection_lost_after_the_request_is_not_retried(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A connection closed once the request was sent fails without a retry on this provider."""
    fake, url = await fake_api(PATH, [Reply(drop=True), Reply(201, CREATED)], spec=TWILIO_SPEC)
    with pytest.raises(SendFailed) as caught:
        await adapter(twilio(url, max_attempts=3), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable, len(fake.received)) == (CONNECT, False, 1)


async def test_success_without_sid_counts_as_sent(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 201 we cannot read is sent (id "unknown"), not retried, and counted as a bad response."""
    fake, url = await fake_api(PATH, [Reply(201, {"status": "queued"})], spec=TWILIO_SPEC)
    with structlog.testing.capture_logs() as logs:
        result = await adapter(twilio(url), session, metrics).send(SMS, deadline())
    assert (result.provider_message_id, len(fake.received)) == (UNKNOWN_MESSAGE_ID, 1)
    assert metrics.provider_errors.labels("twilio", BAD_RESPONSE)._value.get() == 1
    assert [e["log_level"] for e in logs] == ["warning"]
