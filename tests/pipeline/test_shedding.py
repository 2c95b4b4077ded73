"""Load shedding: past its bound a worker answers POST /sms 503 + Retry-After before any work."""

from __future__ import annotations

import asyncio

from gateway.metrics import Metrics
from gateway.shedding import LoadShedder
from tests.auth0 import auth_headers, legacy_payload
from tests.pipeline.conftest import Fake, MakeGateway
from tests.providers.fakes import Reply


async def test_request_over_the_in_flight_bound_is_503(
    make_gateway: MakeGateway, twilio: Fake, vonage: Fake
) -> None:
    """With one request in flight and server.max_in_flight 1, the next is 503 with Retry-After,
    reaches no provider, and is counted; the first one still completes."""
    twilio[0].replies[:] = [Reply(hang=True)]
    client = await make_gateway(server={"max_in_flight": 1}, intake={"deadline_s": 5})
    first = asyncio.ensure_future(
        client.post("/sms", json=legacy_payload("+44 7400 654322"), headers=auth_headers())
    )
    while not twilio[0].received:  # noqa: ASYNC110 - the fake offers no event to wait on
        await asyncio.sleep(0.01)
    resp = await client.post("/sms", json=legacy_payload("+44 7400 654321"), headers=auth_headers())
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert len(twilio[0].received) == 1
    assert (await first).status == 200  # Vonage after Twilio's read timeout
    metrics = await (await client.get("/metrics")).text()
    assert 'smsguard_shed_total{reason="in_flight"} 1.0' in metrics
    assert vonage[0].accepted == 1


async def test_requests_within_the_bound_are_not_shed(
    make_gateway: MakeGateway, twilio: Fake
) -> None:
    """One request at a time under the bound is handled as usual and the in-flight count
    returns to zero."""
    client = await make_gateway(server={"max_in_flight": 1})
    for _ in range(2):
        resp = await client.post(
            "/sms", json=legacy_payload("+44 7400 654323"), headers=auth_headers()
        )
        assert resp.status == 200
    assert (
        'smsguard_shed_total{reason="in_flight"}' not in await (await client.get("/metrics")).text()
    )


def test_a_late_loop_sheds() -> None:
    """Loop lag over server.max_loop_lag_ms makes the shedder refuse; under it, not."""
    shedder = LoadShedder(Metrics(), max_in_flight=0, max_loop_lag_ms=40)
    shedder.lag_s = 0.039
    assert shedder.overloaded() is None
    shedder.lag_s = 0.041
    assert shedder.overloaded() == "loop_lag"


async def test_the_lag_probe_measures_a_blocked_loop() -> None:
    """A loop blocked for 200 ms is seen by the probe as late by at least 100 ms."""
    import time

    from gateway.shedding import lag_probe

    shedder = LoadShedder(Metrics(), max_in_flight=0, max_loop_lag_ms=40)
    async with lag_probe(shedder):
        await asyncio.sleep(0.01)
        time.sleep(0.2)  # noqa: ASYNC251 - blocking the loop is the point: the probe wakes late
        await asyncio.sleep(0.001)  # the probe runs first: its timer is long overdue
    assert shedder.lag_s >= 0.1
