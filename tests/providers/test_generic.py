"""The generic HTTP adapter (type: http): JSON template, success statuses, dotted message id."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from gateway.clock import SystemClock
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.generic import GenericHttpProvider, HttpProviderSettings, dig, render
from gateway.providers.http import UNKNOWN_MESSAGE_ID
from gateway.providers.retry import BAD_RESPONSE, REJECTED, SendFailed
from tests.providers.conftest import StartFake
from tests.providers.fakes import Reply

SMS = OutboundSms("msg-1", "+447700900123", "Your code is 123456", "GB")


def http(base_url: str, **extra: Any) -> HttpProviderSettings:
    data: dict[str, Any] = {
        "name": "acme",
        "type": "http",
        "base_url": base_url,
        "path": "/v1/sms",
        "read_timeout_s": 5,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "headers": {"Authorization": "Bearer acme-key"},
        "from": "Acme",
        "body_template": {
            "message": {"to": ["{to}"], "text": "{body}", "sender": "{from}"},
            "meta": {"ref": "{message_id}", "cc": "{country}", "priority": 1, "tags": ["otp"]},
        },
        "message_id_field": "data.0.id",
    }
    return HttpProviderSettings.model_validate(data | extra)


def adapter(
    settings: HttpProviderSettings, session: aiohttp.ClientSession, m: Metrics
) -> GenericHttpProvider:
    return GenericHttpProvider(settings, session, SystemClock(), m)


def deadline() -> float:
    return time.monotonic() + 10.0


async def test_template_is_rendered_at_every_depth(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """Placeholders in nested objects and lists are replaced; other values are left alone."""
    fake, url = await fake_api("/v1/sms", [Reply(202, {"data": [{"id": "A-1"}]})])
    await adapter(http(url), session, metrics).send(SMS, deadline())
    (req,) = fake.received
    assert req.json == {
        "message": {"to": [SMS.to], "text": SMS.body, "sender": "Acme"},
        "meta": {"ref": "msg-1", "cc": "GB", "priority": 1, "tags": ["otp"]},
    }
    assert (req.method, req.headers["Authorization"]) == ("POST", "Bearer acme-key")


async def test_message_id_is_read_from_the_dotted_path(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """`message_id_field: data.0.id` picks the id out of the provider's JSON answer."""
    _fake, url = await fake_api("/v1/sms", [Reply(202, {"data": [{"id": "A-1"}]})])
    result = await adapter(http(url), session, metrics).send(SMS, deadline())
    assert result.provider_message_id == "A-1"


async def test_put_method_is_used_when_configured(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """`method: PUT` sends a PUT."""
    fake, url = await fake_api("/v1/sms", [Reply(200, {"data": [{"id": 7}]})])
    result = await adapter(http(url, method="PUT"), session, metrics).send(SMS, deadline())
    assert (fake.received[0].method, result.provider_message_id) == ("PUT", "7")


async def test_status_outside_success_status_is_a_refusal(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 422 is a refusal: not retried, provider's message masked into the error."""
    body = {"message": "number +447700900123 is not mobile"}
    fake, url = await fake_api("/v1/sms", [Reply(422, body)])
    with pytest.raises(SendFailed) as caught:
        await adapter(http(url), session, metrics).send(SMS, deadline())
    assert (caught.value.kind, caught.value.retryable, len(fake.received)) == (REJECTED, False, 1)
    assert "+447700900123" not in str(caught.value)


async def test_server_error_then_success_is_retried(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 503 is retried; exactly one request is accepted."""
    replies = [Reply(503), Reply(202, {"data": [{"id": "A-2"}]})]
    fake, url = await fake_api("/v1/sms", replies)
    result = await adapter(http(url), session, metrics).send(SMS, deadline())
    assert (result.attempts, fake.accepted) == (2, 1)


async def test_missing_message_id_counts_as_sent(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A success status without the configured id field is sent (id "unknown"), not retried."""
    fake, url = await fake_api("/v1/sms", [Reply(200, {"ok": True})])
    result = await adapter(http(url), session, metrics).send(SMS, deadline())
    assert (result.provider_message_id, len(fake.received)) == (UNKNOWN_MESSAGE_ID, 1)
    assert metrics.provider_errors.labels("acme", BAD_RESPONSE)._value.get() == 1


def test_headers_are_built_once(session: aiohttp.ClientSession, metrics: Metrics) -> None:
    """The header mapping (secrets resolved) is built at construction and shared by every send."""
    provider = adapter(http("https://sms.example"), session, metrics)
    first, second = provider.build(SMS), provider.build(SMS)
    assert first.headers is second.headers
    assert dict(first.headers) == {"Authorization": "Bearer acme-key", "Accept": "application/json"}


def test_render_leaves_unknown_braces_alone() -> None:
    """Only the five known placeholders are replaced; other braces in text stay as written."""
    values = {"to": "+1", "body": "b", "message_id": "m", "country": "US", "from": "f"}
    assert render({"t": "{to} {x} {{body}}"}, values) == {"t": "+1 {x} {b}"}


def test_dig_follows_keys_and_list_indexes() -> None:
    """A dotted path walks objects by key and lists by index, None when a step is missing."""
    data = {"a": [{"b": "x"}]}
    assert (dig(data, "a.0.b"), dig(data, "a.1.b"), dig(data, "z")) == ("x", None, None)
