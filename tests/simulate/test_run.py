"""The simulator against the real gateway app on a simulated clock: outcomes, time, completions."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.prices import shipped_prices
from gateway.simulate import play
from gateway.simulate.auth0logs import ENDPOINT_ABSENT, DeliveryStatus, LogStream
from gateway.simulate.generate import LEGIT, PREMIUM, SimRequest, generate
from gateway.simulate.harness import SIM_START, Gateway, Harness, feedback_supported
from gateway.simulate.runner import BATCH_DELAY_S, Result
from tests.simulate.conftest import tiny

Delivered = list[tuple[float, list[dict[str, Any]]]]

USER = next(r for r in generate(tiny(LEGIT)) if not r.wrong_number and r.user_agent)


def request(at: float, index: int, **changes: Any) -> SimRequest:
    """The planned request of one real user, at simulated second `at`."""
    fields: dict[str, Any] = {"uses_code": False, "resends": 0, "wrong_code_first": False}
    fields.update(changes)
    return dataclasses.replace(USER, at=at, index=index, retry=False, **fields)


async def play_planned(
    gateway: Gateway, planned: list[SimRequest]
) -> tuple[list[Result], Delivered, LogStream]:
    """Play `planned` and collect each delivered batch with the simulated time it arrived."""
    delivered: Delivered = []

    async def deliver(batch: list[dict[str, Any]]) -> DeliveryStatus:
        delivered.append((gateway.clock.time(), batch))
        return "delivered"

    stream = LogStream(deliver)
    async with aiohttp.ClientSession() as session:
        simulator = gateway.simulator(session, stream, run_id="t")
        results = await simulator.run(planned)
    return results, delivered, stream


def event_time(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["data"]["date"].replace("Z", "+00:00")).timestamp()


async def test_hour_windows_run_on_simulated_time(harness: Harness) -> None:
    """One code per number per hour: 10 simulated minutes later dropped, 2 hours later sent."""
    planned = [request(0, 0), request(600, 1), request(7800, 2)]
    async with harness.gateway() as gateway:
        results, _, _ = await play_planned(gateway, planned)
        assert gateway.clock.time() == pytest.approx(SIM_START + 7800)
    assert [r.outcome for r in results] == ["sent", "dropped", "sent"]


async def test_sent_code_completed_after_its_delay(harness: Harness) -> None:
    """A used code's `s` event is dated use_after seconds after the SMS and delivered after it."""
    planned = [request(100, 0, uses_code=True, use_after=45.0)]
    async with harness.gateway() as gateway:
        _, delivered, stream = await play_planned(gateway, planned)
    [(at, [record])] = delivered
    assert record["data"]["type"] == "s"
    assert event_time(record) == pytest.approx(SIM_START + 145)
    assert SIM_START + 145 <= at <= SIM_START + 145 + BATCH_DELAY_S
    assert stream.delivered == 1


async def test_wrong_code_comes_before_the_login(harness: Harness) -> None:
    """A user who mistypes the code first produces an `f` event, then the `s`."""
    planned = [request(0, 0, uses_code=True, wrong_code_first=True)]
    async with harness.gateway() as gateway:
        _, delivered, _ = await play_planned(gateway, planned)
    assert [r["data"]["type"] for _, batch in delivered for r in batch] == ["f", "s"]


async def test_completions_interleave_with_traffic(harness: Harness) -> None:
    """A completion due before a later request is delivered before that request is sent."""
    planned = [
        request(0, 0, uses_code=True, use_after=30.0),
        request(600, 1, recipient="+447700900123"),
    ]
    async with harness.gateway() as gateway:
        _, delivered, _ = await play_planned(gateway, planned)
    assert len(delivered) == 1
    assert delivered[0][0] < SIM_START + 600


async def test_refused_codes_are_never_completed(harness: Harness) -> None:
    """Only sent codes are used: a dropped one produces no login event."""
    planned = [request(0, 0), request(60, 1, uses_code=True)]
    async with harness.gateway() as gateway:
        results, delivered, _ = await play_planned(gateway, planned)
    assert [r.outcome for r in results] == ["sent", "dropped"]
    assert delivered == []


async def test_user_without_sms_asks_again(harness: Harness) -> None:
    """A real user whose code is dropped asks again after resend_after, up to `resends` times."""
    planned = [request(0, 0), request(60, 1, resends=2, resend_after=30.0)]
    async with harness.gateway() as gateway:
        results, _, _ = await play_planned(gateway, planned)
    assert [(r.request.at, r.outcome, r.request.retry) for r in results] == [
        (0, "sent", False),
        (60, "dropped", False),
        (90, "dropped", True),
        (120, "dropped", True),
    ]


async def test_absent_endpoint_is_reported(harness: Harness) -> None:
    """A gateway without the log-stream endpoint: the run completes and says completions were
    not delivered."""
    report = await play(harness, tiny(PREMIUM), shipped_prices())
    if report.completions["delivered"]:
        pytest.skip("this gateway has the log-stream endpoint")
    assert report.completions["note"] == ENDPOINT_ABSENT
    assert report.completions["events"] > 0
    assert report.attack.total == report.attack.refused > 0


async def test_completions_through_an_injected_deliver(harness: Harness) -> None:
    """With a deliver callable given, every login event of the run is handed to it in batches."""
    batches: list[list[dict[str, Any]]] = []

    async def deliver(batch: list[dict[str, Any]]) -> DeliveryStatus:
        batches.append(batch)
        return "delivered"

    report = await play(harness, tiny(PREMIUM), shipped_prices(), deliver=deliver)
    delivered = sum(len(b) for b in batches)
    assert delivered == report.completions["events"] == report.completions["delivered"] > 0
    assert {r["data"]["type"] for b in batches for r in b} <= {"s", "f"}


async def test_report_counts_every_request(harness: Harness) -> None:
    """Real users and attack messages in the report add up to the requests played."""
    report = await play(harness, tiny(PREMIUM), shipped_prices())
    assert report.errors == 0
    assert report.meta["requests"] >= report.legit_messages.total + report.attack.total
    assert report.users.total > 0
    assert report.spend_reduction_pct == 100.0


def test_feedback_writes_go_at_once(harness: Harness) -> None:
    """With the feedback section, the gateway writes each sent code at once (batch of 1), so a
    login seconds later in simulated time finds it; the log stream gets its Authorization."""
    if not feedback_supported():
        pytest.skip("this gateway has no feedback settings")
    settings = harness.settings("s" * 40, "Bearer simulated")
    feedback: Any = getattr(settings, "feedback")  # noqa: B009 - absent before the feedback merge
    assert feedback.batch_size == 1
    assert feedback.log_stream.authorization.get_secret_value() == "Bearer simulated"


def test_each_harness_has_its_own_geoip_files(redis_url: str, rules_dir: Path) -> None:
    """Two simulations never share GeoIP files: the gateway maps them, and a rewrite under a
    running one crashed it (SIGBUS)."""
    with (
        Harness(rules=rules_dir, redis_url=redis_url) as one,
        Harness(rules=rules_dir, redis_url=redis_url) as two,
    ):
        first = one.settings("s" * 40, None).geoip.country_db
        second = two.settings("s" * 40, None).geoip.country_db
    assert first is not None
    assert second is not None
    assert first != second
