"""The shared retry loop: backoff, Retry-After, attempts and deadline, and what it logs."""

from __future__ import annotations

import time

import aiohttp
import pytest
import structlog

from gateway.clock import SystemClock
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.retry import RetryPolicy, SendFailed
from gateway.providers.twilio import TwilioProvider
from tests.providers.conftest import StartFake
from tests.providers.fakes import TWILIO_SPEC, TWILIO_TOKEN, Reply
from tests.providers.test_twilio import CREATED, PATH, twilio

SMS = OutboundSms("msg-1", "+447700900123", "Your code is 987654", "GB")


class Sleeps:
    """An injected sleep that records the waits it was asked for and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_backoff_doubles_up_to_the_cap() -> None:
    """Without jitter (rng at its top) the waits are base, 2*base, 4*base ... capped."""
    policy = RetryPolicy(max_attempts=6, backoff_base_s=0.2, backoff_max_s=1.0)
    waits = [round(policy.backoff(n, lambda: 1.0), 3) for n in range(1, 6)]
    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_jitter_keeps_at_least_half_the_wait() -> None:
    """Jitter scales the wait into [0.5, 1) of its nominal value."""
    policy = RetryPolicy(backoff_base_s=0.4)
    assert policy.backoff(1, lambda: 0.0) == pytest.approx(0.2)


async def test_retry_after_longer_than_the_backoff_is_honoured(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A 429 asking for 1.5 s makes the next attempt wait 1.5 s, not the shorter backoff."""
    reply = Reply(
        429,
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        headers={"Retry-After": "1.5"},
    )
    _fake, url = await fake_api(PATH, [reply, Reply(201, CREATED)], spec=TWILIO_SPEC)
    sleeps = Sleeps()
    provider = TwilioProvider(twilio(url), session, SystemClock(), metrics, sleep=sleeps)
    # The sleep is recorded, not waited; the long deadline keeps a loaded machine from turning
    # this into a timeout.
    await provider.send(SMS, time.monotonic() + 60)
    assert sleeps.waits == [1.5]


async def test_no_attempt_starts_after_the_deadline(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """A deadline already passed fails at once, without contacting the provider."""
    fake, url = await fake_api(PATH, [Reply(201, CREATED)], spec=TWILIO_SPEC)
    provider = TwilioProvider(twilio(url), session, SystemClock(), metrics)
    with pytest.raises(SendFailed, match="no time left"):
        await provider.send(SMS, time.monotonic() - 1)
    assert fake.received == []


async def test_logs_hold_no_number_body_or_secret(
    fake_api: StartFake, session: aiohttp.ClientSession, metrics: Metrics
) -> None:
    """Failed attempts are logged with masked provider text, never the number, code or token."""
    body = {
        "code": 21610,
        "message": f"Attempt to send to unsubscribed recipient {SMS.to}",
        "status": 400,
    }
    _fake, url = await fake_api(PATH, [Reply(500), Reply(400, body)], spec=TWILIO_SPEC)
    provider = TwilioProvider(twilio(url), session, SystemClock(), metrics)
    with structlog.testing.capture_logs() as logs, pytest.raises(SendFailed):
        await provider.send(SMS, time.monotonic() + 10)
    text = repr(logs)
    assert len(logs) == 2
    assert all(secret not in text for secret in (SMS.to, "987654", TWILIO_TOKEN))
