"""The PIN step as completion feedback: an enrolled or verified PIN used the code it was sent."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.feedback.store import FeedbackStore
from tests.feedback.helpers import RECIPIENT, make_store
from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import FakeAuth0
from tests.pin.flow import open_pin, resume, submit

GOOD = "731946"
SECTIONS = {"rules": {"watch": False, "counter_hash_key": "test-secret"}}


async def marker(store: FeedbackStore) -> int | None:
    """The recipient's marker once the background writer has run (it writes every 250 ms)."""
    for _ in range(100):
        view = await store.read(RECIPIENT, {}, 0)
        if view.verified_at is not None:
            return view.verified_at
        await asyncio.sleep(0.05)
    return None


async def test_an_enrolled_pin_marks_the_phone_of_the_session(
    make_gateway: MakeGateway, auth0: tuple[FakeAuth0, object], redis_url: str
) -> None:
    """Enrolling a PIN in a session naming the SMS login's phone completes that phone's code."""
    client = await make_gateway(sections=SECTIONS)
    redis: Redis = Redis.from_url(redis_url)
    try:
        form = await open_pin(client, auth0[0].session_token(phone_number=RECIPIENT))
        answer = await resume(client, await submit(client, form, GOOD, GOOD))
        assert answer["outcome"] == "enrolled"
        assert await marker(make_store(redis)) == int(auth0[0].clock.time())
    finally:
        await redis.aclose()


async def test_a_verified_pin_marks_the_phone_of_the_session(
    make_gateway: MakeGateway, auth0: tuple[FakeAuth0, object], redis_url: str
) -> None:
    """A second login that verifies the PIN completes too."""
    client = await make_gateway(sections=SECTIONS)
    redis: Redis = Redis.from_url(redis_url)
    try:
        form = await open_pin(client, auth0[0].session_token())
        await resume(client, await submit(client, form, GOOD, GOOD))
        form = await open_pin(client, auth0[0].session_token(phone_number=RECIPIENT))
        answer = await resume(client, await submit(client, form, GOOD))
        assert answer["outcome"] == "verified"
        assert await marker(make_store(redis)) is not None
    finally:
        await redis.aclose()


async def test_the_pin_action_puts_the_sms_phone_in_the_session_token(
    make_gateway: MakeGateway, clock: FakeClock, redis_url: str
) -> None:
    """pin-step.js names the SMS login's number in its session token; enrolling then completes
    that number's code at the gateway."""
    from tests.pin.test_pin_action import NODE, calls, event, query_of, run

    if NODE is None:
        pytest.skip("node is not installed")
    ev = event()
    ev["user"]["phone_number"] = RECIPIENT
    (target,) = calls(run("execute", ev, clock.time(), state="st-fb"), "redirect.sendUserTo")
    query = query_of(target[0])
    client = await make_gateway(sections=SECTIONS)
    redis: Redis = Redis.from_url(redis_url)
    try:
        form = await open_pin(client, query["session_token"], state=query["state"])
        await resume(client, await submit(client, form, GOOD, GOOD))
        assert await marker(make_store(redis)) is not None
    finally:
        await redis.aclose()
