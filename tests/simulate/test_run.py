"""The simulator against the real gateway app over HTTP: outcomes, counts and money."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from gateway.clock import SystemClock
from gateway.prices import shipped_prices
from gateway.simulate.generate import BOMBING, LEGIT, PREMIUM, ScenarioConfig, generate
from gateway.simulate.report import COLUMNS, build_report
from gateway.simulate.runner import Result, RunOptions, Simulator, TokenSigner
from tests.auth0 import SECRET
from tests.simulate.conftest import StartGateway

SMALL = ScenarioConfig(seed=3, legit=12, attack_scale=0.1, span_s=1.0)


async def play(
    session: aiohttp.ClientSession,
    url: URL,
    *,
    secret: str = SECRET,
    duration_limit_s: float = 600.0,
    shape: str = "action",
    concurrency: int = 4,
) -> tuple[list[Result], Simulator]:
    options = RunOptions(
        concurrency=concurrency,
        duration_limit_s=duration_limit_s,
        speed=1000.0,
        run_id="t",
        shape=shape,  # type: ignore[arg-type]
    )
    simulator = Simulator(session, url, TokenSigner(secret.encode()), options, SystemClock())
    return await simulator.run(generate(SMALL)), simulator


async def test_counts_add_up(start_gateway: StartGateway, session: aiohttp.ClientSession) -> None:
    """Per scenario, sent + blocked + dropped + accepted + errors + skipped equals requests."""
    results, simulator = await play(session, await start_gateway())
    report = build_report(results, shipped_prices(), verified=simulator.verified)
    assert simulator.verified
    assert sum(c.requests for c in report.scenarios.values()) == len(results)
    for counts in report.scenarios.values():
        assert counts.requests == sum(getattr(counts, col) for col in COLUMNS[1:])
    assert report.total("attack").errors == report.total("legit").errors == 0


async def test_refusal_is_blocked_with_its_rule(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """Premium-rate and shared-cost requests come back 403 and are counted blocked by that rule."""
    results, _ = await play(session, await start_gateway())
    premium = [r for r in results if r.request.scenario == PREMIUM]
    assert premium
    assert {(r.outcome, r.status, r.rule) for r in premium} == {
        ("blocked", 403, "block-revenue-share")
    }


async def test_silent_drop_is_told_from_sent(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """Bombing one number: the first code is sent, the rest answer 200 but are found dropped."""
    results, _ = await play(session, await start_gateway(), concurrency=1)
    bombs = [r for r in results if r.request.scenario == BOMBING]
    assert [r.status for r in bombs] == [200] * len(bombs)
    assert [r.outcome for r in bombs] == ["sent"] + ["dropped"] * (len(bombs) - 1)


async def test_legit_first_codes_are_sent(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """Each legitimate user's first code is sent; their repeats meet the one-per-hour drop."""
    # One at a time: with a speeded-up timeline a retry could otherwise overtake its login.
    results, _ = await play(session, await start_gateway(), shape="legacy", concurrency=1)
    seen: set[str] = set()
    for r in results:
        if r.request.scenario == LEGIT:
            first = r.request.recipient not in seen
            seen.add(r.request.recipient)
            assert r.outcome == ("sent" if first else "dropped"), r


async def test_money_is_the_price_of_what_was_stopped(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """Attack spend avoided is the sum of the country prices of the attack messages not sent."""
    prices = shipped_prices()
    results, simulator = await play(session, await start_gateway())
    report = build_report(results, prices, verified=simulator.verified)
    stopped = [r for r in results if r.request.label == "attack" and r.outcome != "sent"]
    assert stopped
    expected = sum(prices.price(r.request.country) for r in stopped)
    assert report.total("attack").avoided == pytest.approx(expected)
    assert report.as_json()["attack_spend_avoided"] == pytest.approx(expected, abs=1e-3)


async def test_without_sandbox_200s_stay_unverified(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """When the sandbox inbox is not exposed, 200s are 'accepted' and the report says so."""
    results, simulator = await play(session, await start_gateway(expose_sandbox=False))
    report = build_report(
        results, shipped_prices(), verified=simulator.verified, note=simulator.sandbox_note
    )
    assert not simulator.verified
    assert {r.outcome for r in results if r.status == 200} == {"accepted"}
    assert "cannot be told apart" in report.as_text()


async def test_wrong_secret_is_counted_as_errors(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """A wrong gateway secret makes every request an error (401), never a block."""
    results, _ = await play(
        session, await start_gateway(), secret="not-the-secret-but-just-as-long-as-it-0123"
    )
    assert {(r.outcome, r.status) for r in results} == {("error", 401)}


async def test_duration_limit_skips_the_rest(session: aiohttp.ClientSession) -> None:
    """With no time left, nothing is sent (not even to a closed port) and all are skipped."""
    results, _ = await play(session, URL("http://127.0.0.1:9"), duration_limit_s=0)
    assert {r.outcome for r in results} == {"skipped"}


async def test_all_refused_is_still_verified(
    start_gateway: StartGateway, session: aiohttp.ClientSession
) -> None:
    """When nothing is answered 200 there is nothing to tell apart: the report is verified."""
    url = await start_gateway()
    planned = [r for r in generate(SMALL) if r.scenario == PREMIUM]
    options = RunOptions(concurrency=2, speed=1000.0, run_id="p")
    simulator = Simulator(session, url, TokenSigner(SECRET.encode()), options, SystemClock())
    results = await simulator.run(planned)
    assert {r.outcome for r in results} == {"blocked"}
    assert simulator.verified
