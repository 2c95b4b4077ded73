"""The router over real fake providers: routes, failover, deadline sharing, circuit breakers."""

from __future__ import annotations

import time
from typing import Any, Protocol

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.clock import Clock, FakeClock, SystemClock
from gateway.errors import AllProvidersFailed
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers import Deps, build_router
from gateway.providers.breaker import CircuitState
from gateway.providers.router import ProviderRouter
from gateway.settings import Settings
from tests.providers.conftest import StartFake
from tests.providers.fakes import TWILIO_SID, TWILIO_SPEC, VONAGE_SPEC, FakeApi, Reply
from tests.providers.test_twilio import CREATED
from tests.providers.test_twilio import PATH as TWILIO_PATH
from tests.providers.test_vonage import PATH as VONAGE_PATH
from tests.providers.test_vonage import sent

SMS = OutboundSms("msg-1", "+447700900123", "Your code is 123456", "GB")
US_SMS = OutboundSms("msg-2", "+14155550123", "Your code is 654321", "US")


def settings(twilio_url: str, vonage_url: str, routes: Any = None, **twilio: Any) -> Settings:
    common = {"read_timeout_s": 5, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    return Settings.model_validate(
        {
            "providers": [
                {
                    "name": "twilio",
                    "type": "twilio",
                    "base_url": twilio_url,
                    "account_sid": TWILIO_SID,
                    "auth_token": "t",
                    "from": "+15005550006",
                    **common,
                    **twilio,
                },
                {
                    "name": "vonage",
                    "type": "vonage",
                    "base_url": vonage_url,
                    "api_key": "abcd1234",
                    "api_secret": "abcdef0123456789",
                    "from": "Acme",
                    **common,
                },
            ],
            "routes": routes or {},
        }
    )


class Pair:
    """A Twilio fake and a Vonage fake, and a router over both."""

    def __init__(self, twilio: FakeApi, vonage: FakeApi, router: ProviderRouter) -> None:
        self.twilio, self.vonage, self.router = twilio, vonage, router

    @property
    def accepted(self) -> int:
        return self.twilio.accepted + self.vonage.accepted


class StartPair(Protocol):
    async def __call__(
        self,
        twilio: list[Reply],
        vonage: list[Reply],
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        routes: Any = None,
        **twilio_settings: Any,
    ) -> Pair: ...


@pytest.fixture
def start_pair(fake_api: StartFake, session: aiohttp.ClientSession, redis: Redis) -> StartPair:
    """Starts a Twilio fake and a Vonage fake answering with the given replies, and a router."""

    async def start(
        twilio: list[Reply],
        vonage: list[Reply],
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        routes: Any = None,
        **twilio_settings: Any,
    ) -> Pair:
        t, t_url = await fake_api(TWILIO_PATH, twilio, spec=TWILIO_SPEC)
        v, v_url = await fake_api(VONAGE_PATH, vonage, spec=VONAGE_SPEC)
        deps = Deps(session, redis, clock or SystemClock(), metrics or Metrics())
        return Pair(t, v, build_router(settings(t_url, v_url, routes, **twilio_settings), deps))

    return start


def opens_after(failures: int) -> dict[str, float]:
    """Circuit-breaker settings: open after `failures`, try again 30 s later."""
    return {"failure_threshold": failures, "reset_after_s": 30}


async def test_failover_after_server_errors_sends_exactly_one_sms(start_pair: StartPair) -> None:
    """The first provider answers 500; the second sends; one SMS in total across both."""
    p = await start_pair([Reply(500)], [Reply(200, sent())])
    result = await p.router.send(SMS, time.monotonic() + 10)
    assert (result.provider, p.accepted, p.twilio.accepted) == ("vonage", 1, 0)
    assert len(p.twilio.received) == 3  # max_attempts on the first provider, then failover
    assert any("twilio" in e for e in result.errors)


async def test_hanging_first_provider_leaves_time_for_the_second(start_pair: StartPair) -> None:
    """A first provider that hangs (read timeout beyond the deadline) cannot eat the deadline."""
    p = await start_pair([Reply(hang=True)], [Reply(200, sent())], read_timeout_s=30)
    # The first provider hangs for its half (2 s); nothing slow runs in the fakes meanwhile
    # (spec checks happen at teardown), so the second has ample time for a loopback request.
    result = await p.router.send(SMS, time.monotonic() + 4)
    assert (result.provider, len(p.twilio.received), p.accepted) == ("vonage", 1, 1)


async def test_no_time_left_does_not_open_the_circuit(start_pair: StartPair) -> None:
    """Sends whose deadline leaves no time for an attempt contact nobody and open no circuit."""
    clock = FakeClock()
    p = await start_pair(
        [Reply(201, CREATED)],
        [Reply(200, sent())],
        clock=clock,
        breaker=opens_after(2),
    )
    for _ in range(3):
        with pytest.raises(AllProvidersFailed, match="no time left"):
            await p.router.send(SMS, clock.monotonic() + 0.06)
    assert (p.twilio.received, p.vonage.received) == ([], [])
    assert p.router.states() == {"twilio": CircuitState.CLOSED, "vonage": CircuitState.CLOSED}


async def test_all_providers_failing_raises_all_providers_failed(start_pair: StartPair) -> None:
    """When every provider on the route fails, AllProvidersFailed carries each one's error."""
    p = await start_pair([Reply(500)], [Reply(503)])
    with pytest.raises(AllProvidersFailed) as caught:
        await p.router.send(SMS, time.monotonic() + 10)
    assert [e.provider for e in caught.value.errors] == ["twilio", "vonage"]
    assert p.accepted == 0


async def test_country_route_sets_the_order(start_pair: StartPair) -> None:
    """GB routed to [vonage, twilio] goes to Vonage; other countries follow "default"."""
    routes = {"GB": ["vonage", "twilio"], "default": ["twilio"]}
    p = await start_pair([Reply(201, CREATED)], [Reply(200, sent())], routes=routes)
    gb = await p.router.send(SMS, time.monotonic() + 10)
    us = await p.router.send(US_SMS, time.monotonic() + 10)
    assert (gb.provider, us.provider) == ("vonage", "twilio")


async def test_without_routes_every_provider_is_tried_in_settings_order(
    start_pair: StartPair,
) -> None:
    """No routes at all: all providers, in the order the settings list them."""
    p = await start_pair([Reply(201, CREATED)], [Reply(200, sent())])
    assert (p.router.route_for("FR"), p.router.route_for(None)) == (
        ["twilio", "vonage"],
        ["twilio", "vonage"],
    )


async def test_circuit_opens_after_failures_and_the_provider_is_skipped(
    start_pair: StartPair,
) -> None:
    """After failure_threshold failed sends the first provider is not contacted at all."""
    clock, metrics = FakeClock(), Metrics()
    p = await start_pair(
        [Reply(500)],
        [Reply(200, sent())],
        clock=clock,
        metrics=metrics,
        max_attempts=1,
        breaker=opens_after(2),
    )
    for _ in range(3):
        await p.router.send(SMS, clock.monotonic() + 5)
    assert (len(p.twilio.received), p.vonage.accepted) == (2, 3)
    assert p.router.states()["twilio"] is CircuitState.OPEN
    assert metrics.circuit_state.labels("twilio")._value.get() == 2


async def test_half_open_trial_success_closes_the_circuit(start_pair: StartPair) -> None:
    """After reset_after_s one trial goes to the recovered provider, and its success closes it."""
    clock = FakeClock()
    p = await start_pair(
        [Reply(500), Reply(201, CREATED)],
        [Reply(200, sent())],
        clock=clock,
        max_attempts=1,
        breaker=opens_after(1),
    )
    await p.router.send(SMS, clock.monotonic() + 5)
    clock.advance(30)
    result = await p.router.send(SMS, clock.monotonic() + 5)
    assert (result.provider, p.router.states()["twilio"]) == ("twilio", CircuitState.CLOSED)


INVALID_TO = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}


@pytest.mark.parametrize(
    ("reply", "sent_by"),
    [
        pytest.param(Reply(201, {"status": "queued"}), "twilio", id="unreadable-201-is-sent"),
        pytest.param(Reply(400, INVALID_TO), "vonage", id="refused-400-fails-over"),
    ],
)
async def test_an_answer_that_is_not_an_outage_leaves_the_circuit_closed(
    start_pair: StartPair, reply: Reply, sent_by: str
) -> None:
    """A 201 without a sid (sent) or a 400 for one bad number (fail over): circuit stays closed."""
    p = await start_pair([reply], [Reply(200, sent())], breaker=opens_after(1))
    result = await p.router.send(SMS, time.monotonic() + 10)
    assert (result.provider, p.accepted, len(p.twilio.received)) == (sent_by, 1, 1)
    assert p.router.states()["twilio"] is CircuitState.CLOSED


async def test_every_circuit_open_fails_without_calling_anyone(start_pair: StartPair) -> None:
    """With every circuit open, send fails at once and names the open circuits."""
    clock = FakeClock()
    p = await start_pair(
        [Reply(500)],
        [Reply(200, sent())],
        clock=clock,
        routes={"default": ["twilio"]},
        max_attempts=1,
        breaker=opens_after(1),
    )
    with pytest.raises(AllProvidersFailed):
        await p.router.send(SMS, clock.monotonic() + 5)
    with pytest.raises(AllProvidersFailed, match="circuit open: twilio"):
        await p.router.send(SMS, clock.monotonic() + 5)
    assert len(p.twilio.received) == 1
