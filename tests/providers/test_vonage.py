"""The Vonage adapter against a real HTTP server playing Vonage's SMS API (HTTP 200 + status)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
import structlog

from gateway.clock import SystemClock
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.http import UNKNOWN_MESSAGE_ID
from gateway.providers.retry import AUTH, BAD_RESPONSE, REJECTED, SERVER, THROTTLED, SendFailed
from gateway.providers.vonage import PARTIAL, VonageProvider, VonageSettings
from tests.providers.conftest import StartFake
from tests.providers.fakes import VONAGE_SPEC, Reply

PATH = "/sms/json"
SMS = OutboundSms("msg-1", "+447700900123", "Your code is 123456", "GB")


def sent(message_id: str = "0A0000000123ABCD1") -> dict[str, Any]:
    return {
        "message-count": "1",
        "messages": [{"to": "447700900123", "message-id": message_id, "status": "0"}],
    }


def refused(status: str, text: str) -> dict[str, Any]:
    return {"message-count": "1", "messages": [{"status": status, "error-text": text}]}


def vonage(base_url: str, **extra: Any) -> VonageSettings:
    data: dict[str, Any] = {
        "name": "vonage",
        "type": "vonage",
        "base_url": base_url,
        "api_key": "abcd1234",
        "api_secret": "abcdef0123456789",
        "from": "AcmeInc",
        "read_timeout_s": 5,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    return VonageSettings.model_validate(data | extra)


def adapter(settings: VonageSettings, session: aiohttp.ClientSession, m: Metrics) -> VonageProvider:
    return VonageProvider(settings, session, SystemClock(), m)


def deadline() -> float:
    return time.monotonic() + 10.0


async def test_sends_form_without_plus_and_returns_message_id(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """The form carries key, secret, from, text and `to` without '+'; message-id comes back."""
    fake, url = await fake_api(PATH, [Reply(200, sent())], spec=VONAGE_SPEC)
    result = await adapter(vonage(url), session, metrics).send(SMS, deadline())
    assert (result.provider, result.provider_message_id) == ("vonage", "0A0000000123ABCD1")
    form = fake.received[0].form
    assert form == {
        "api_key": "abcd1234",
        "api_secret": "abcdef0123456789",
        "from": "AcmeInc",
        "to": "447700900123",
        "text": SMS.body,
        "client-ref": "msg-1",
    }


async def test_non_ascii_text_is_sent_as_unicode(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A body outside ASCII is sent with type=unicode so it is not mangled."""
    fake, url = await fake_api(PATH, [Reply(200, sent())], spec=VONAGE_SPEC)
    sms = OutboundSms("msg-2", "+33612345678", "Votre code est 123456 — merci", "FR")
    await adapter(vonage(url), session, metrics).send(sms, deadline())
    assert fake.received[0].form["type"] == "unicode"


async def test_http_200_with_error_status_is_a_refusal(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """HTTP 200 with status "6" (invalid message) fails without retry, error text kept."""
    body = refused("6", "Invalid Message for +447700900123")
    fake, url = await fake_api(PATH, [Reply(200, body)], spec=VONAGE_SPEC)
    with pytest.raises(SendFailed) as caught:
        await adapter(vonage(url), session, metrics).send(SMS, deadline())
    err = caught.value
    assert (err.kind, err.retryable, len(fake.received)) == (REJECTED, False, 1)
    assert "status 6" in str(err)
    assert "+447700900123" not in str(err)


async def test_throttled_status_is_retried(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """Status "1" (throttled) is retried, and the next attempt's message-id is returned."""
    replies = [Reply(200, refused("1", "Throughput Rate Exceeded")), Reply(200, sent("B2"))]
    fake, url = await fake_api(PATH, replies, spec=VONAGE_SPEC)
    result = await adapter(vonage(url), session, metrics).send(SMS, deadline())
    assert (result.provider_message_id, result.attempts, len(fake.received)) == ("B2", 2, 2)
    assert metrics.provider_errors.labels("vonage", THROTTLED)._value.get() == 1


async def test_internal_error_status_is_retryable(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """Status "5" (internal error) is retried until attempts run out, then reported retryable."""
    fake, url = await fake_api(PATH, [Reply(200, refused("5", "Internal Error"))], spec=VONAGE_SPEC)
    with pytest.raises(SendFailed) as caught:
        await adapter(vonage(url, max_attempts=2), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable, len(fake.received)) == (SERVER, True, 2)


async def test_invalid_credentials_status_is_an_account_failure(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """Status "4" (bad credentials) is not retried and counts against the provider (kind auth)."""
    _fake, url = await fake_api(
        PATH, [Reply(200, refused("4", "Bad Credentials"))], spec=VONAGE_SPEC
    )
    with pytest.raises(SendFailed) as caught:
        await adapter(vonage(url), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.counts_against_provider) == (AUTH, True)


async def test_server_error_then_success(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """An HTTP 502 from Vonage is retried like any 5xx."""
    fake, url = await fake_api(PATH, [Reply(502), Reply(200, sent())], spec=VONAGE_SPEC)
    result = await adapter(vonage(url), session, metrics).send(SMS, deadline())
    assert (result.attempts, fake.accepted) == (2, 1)


async def test_every_part_of_a_long_text_must_succeed(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A split message whose second part failed is a failure, not a success."""
    body = {
        "message-count": "2",
        "messages": [
            {"message-id": "P1", "status": "0"},
            {"status": "12", "error-text": "Message Too Long"},
        ],
    }
    _fake, url = await fake_api(PATH, [Reply(200, body)], spec=VONAGE_SPEC)
    with pytest.raises(SendFailed, match="status 12"):
        await adapter(vonage(url), session, metrics).send(SMS, deadline())


async def test_http_200_without_messages_counts_as_sent(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """HTTP 200 without messages[] is sent (id "unknown"), not retried, counted bad_response."""
    fake, url = await fake_api(PATH, [Reply(200, {"message-count": "1"})], spec=VONAGE_SPEC)
    result = await adapter(vonage(url), session, metrics).send(SMS, deadline())
    assert (result.provider_message_id, len(fake.received)) == (UNKNOWN_MESSAGE_ID, 1)
    assert metrics.provider_errors.labels("vonage", BAD_RESPONSE)._value.get() == 1


async def test_throttled_later_part_does_not_resend_the_text(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A long text whose first part went out and second was throttled counts as sent, once."""
    body = {
        "message-count": "2",
        "messages": [
            {"message-id": "P1", "status": "0"},
            {"status": "1", "error-text": "Throughput Rate Exceeded"},
        ],
    }
    fake, url = await fake_api(PATH, [Reply(200, body), Reply(200, sent())], spec=VONAGE_SPEC)
    with structlog.testing.capture_logs() as logs:
        result = await adapter(vonage(url), session, metrics).send(SMS, deadline())
    assert (result.provider_message_id, len(fake.received)) == ("P1", 1)
    assert metrics.provider_errors.labels("vonage", PARTIAL)._value.get() == 1
    assert [e["log_level"] for e in logs] == ["warning"]
