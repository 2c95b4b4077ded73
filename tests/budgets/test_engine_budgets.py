"""Budgets in the rule engine: real cost counted, refused with a plain reason, given back when
not sent, rolled over at local midnight; the same on the in-process counters and on Redis."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.clock import FakeClock
from gateway.models import Action, SmsRequest
from gateway.policy.engine import RuleEngine
from gateway.signals import Signals
from tests.budgets.conftest import MakeEngine
from tests.policy.helpers import signals, sms

KG = signals(phone_country="KG", e164="+996555123456")

TEN_CENTS_A_DAY = """
rules:
  - id: budget-kg
    description: SMS to Kyrgyzstan
    conditions: {signal: phone.country, in: [KG]}
    budget: {key: country, max: 0.10, per: day}
    action: block
"""


def body(text: str) -> SmsRequest:
    return dataclasses.replace(sms(), body=text)


async def send(engine: RuleEngine, request: SmsRequest, s: Signals = KG) -> Action:
    decision = await engine.decide(request, s)
    await engine.settle(request, s, decision, decision.action is Action.ALLOW)
    return decision.action


async def test_a_reached_budget_refuses_with_its_rule_and_a_plain_reason(
    make_engine: MakeEngine,
) -> None:
    """Two 5-cent messages fill a 10-cent budget; the third is refused by the budget's rule."""
    engine = await make_engine(TEN_CENTS_A_DAY)
    assert [await send(engine, sms()) for _ in range(2)] == [Action.ALLOW, Action.ALLOW]
    refused = await engine.decide(sms(), KG)
    assert (refused.action, refused.rule_id, refused.status) == (Action.BLOCK, "budget-kg", 429)
    assert refused.reason == "daily budget for KG reached: $0.10 of $0.10"


async def test_other_countries_are_not_counted(make_engine: MakeEngine) -> None:
    """A country budget counts only messages its conditions select."""
    engine = await make_engine(TEN_CENTS_A_DAY)
    assert {await send(engine, sms(), signals()) for _ in range(20)} == {Action.ALLOW}


async def test_ucs2_and_multi_segment_bodies_cost_their_segments(make_engine: MakeEngine) -> None:
    """A 71-character Cyrillic body is 2 UCS-2 segments: a 10-cent budget takes one, not two."""
    engine = await make_engine(TEN_CENTS_A_DAY)
    assert await send(engine, body("Ж" * 71)) is Action.ALLOW  # 2 x 5 cents
    assert await send(engine, body("Код 1")) is Action.BLOCK


async def test_a_message_that_would_overshoot_is_refused(make_engine: MakeEngine) -> None:
    """With 5 cents left, a 2-segment (10-cent) message is refused and a 1-segment one is not."""
    engine = await make_engine(TEN_CENTS_A_DAY)
    assert await send(engine, sms()) is Action.ALLOW
    refused = await engine.decide(body("a" * 161), KG)
    assert refused.reason == "daily budget for KG reached: $0.05 of $0.10"
    assert await send(engine, sms()) is Action.ALLOW


async def test_a_message_not_sent_costs_nothing(make_engine: MakeEngine) -> None:
    """When every provider failed, the reserved cost is given back (`count: sent`)."""
    engine = await make_engine(TEN_CENTS_A_DAY)
    for _ in range(5):
        request = sms()
        decision = await engine.decide(request, KG)
        await engine.settle(request, KG, decision, False)
    assert [await send(engine, sms()) for _ in range(3)] == [
        Action.ALLOW,
        Action.ALLOW,
        Action.BLOCK,
    ]


async def test_a_later_refusal_takes_no_budget(make_engine: MakeEngine) -> None:
    """A message the budget admitted but a later rule refused is not counted."""
    rules = (
        TEN_CENTS_A_DAY
        + """
  - id: one-per-recipient
    description: one code a minute
    velocity: {key: recipient, limits: [{max: 1, per: 1m}]}
    action: block
"""
    )
    engine = await make_engine(rules)
    assert await send(engine, sms()) is Action.ALLOW
    for _ in range(5):  # same recipient: refused by the velocity rule
        assert await send(engine, sms()) is Action.BLOCK
    other = dataclasses.replace(KG, e164="+996555000001")
    assert await send(engine, sms("+996555000001"), other) is Action.ALLOW


async def test_the_day_rolls_over_at_midnight_in_the_configured_zone(
    make_engine: MakeEngine,
) -> None:
    """Spent at 23:58 in Bishkek, the budget is whole again at 00:00 Bishkek (18:00 UTC)."""
    zone = ZoneInfo("Asia/Bishkek")
    clock = FakeClock(datetime(2026, 12, 3, 23, 58, tzinfo=zone).timestamp())
    engine = await make_engine(
        TEN_CENTS_A_DAY.replace("per: day}", "per: day, timezone: Asia/Bishkek}"), clock
    )
    assert [await send(engine, sms()) for _ in range(3)][-1] is Action.BLOCK
    clock.advance(60)  # 23:59
    assert await send(engine, sms()) is Action.BLOCK
    clock.advance(60)  # 00:00 in Bishkek, still Dec 3 in UTC
    assert datetime.fromtimestamp(clock.time(), ZoneInfo("UTC")).day == 3
    assert await send(engine, sms()) is Action.ALLOW


async def test_a_rolling_window_frees_what_left_it(make_engine: MakeEngine) -> None:
    """A rolling 24 h budget admits again 24 h after the spend, not at midnight."""
    clock = FakeClock(datetime(2026, 12, 3, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp())
    engine = await make_engine(TEN_CENTS_A_DAY.replace("per: day", "per: 24h"), clock)
    assert [await send(engine, sms()) for _ in range(3)][-1] is Action.BLOCK
    clock.advance(13 * 3600)  # past midnight UTC
    assert await send(engine, sms()) is Action.BLOCK
    clock.advance(11 * 3600 + 60)
    assert await send(engine, sms()) is Action.ALLOW


async def test_verified_recipients_can_be_exempt(make_engine: MakeEngine) -> None:
    """`exempt: verified_recipients` does not count or refuse recipients marked verified."""
    engine = await make_engine(
        TEN_CENTS_A_DAY.replace("per: day}", "per: day, exempt: verified_recipients}")
    )
    verified = KG.with_state({"recipient.verified": True})
    assert {await send(engine, sms(), verified) for _ in range(5)} == {Action.ALLOW}
    assert [await send(engine, sms()) for _ in range(3)][-1] is Action.BLOCK


async def test_a_shadow_budget_only_says_what_it_would_have_done(
    make_engine: MakeEngine,
) -> None:
    """In shadow mode a reached budget records "would have blocked" and sends."""
    shadow = TEN_CENTS_A_DAY.replace("action: block", "action: block\n    mode: shadow")
    engine = await make_engine(shadow)
    for _ in range(2):
        await send(engine, sms())
    decision = await engine.decide(sms(), KG)
    assert decision.action is Action.ALLOW
    assert [(h.rule_id, h.action) for h in decision.shadow] == [("budget-kg", "block")]
    assert decision.shadow[0].reason == "daily budget for KG reached: $0.10 of $0.10"


async def test_route_and_prefix_budgets_count_their_own_traffic(make_engine: MakeEngine) -> None:
    """A route budget counts the messages of its route; a prefix budget its number range."""
    rules = """
rules:
  - id: route-twilio
    description: what goes through twilio
    budget: {key: route, max: 0.10, per: hour}
    action: block
  - id: range
    description: one range
    conditions: {signal: phone.country, in: [GB]}
    budget: {key: 'prefix:6', max: 0.02, per: hour}
    action: drop
"""
    engine = await make_engine(rules)
    gb = signals()  # route vonage, 1 cent
    assert [await send(engine, sms(), gb) for _ in range(3)][-1] is Action.DROP  # range: 2 cents
    other_range = dataclasses.replace(KG, e164="+996700000000")  # route twilio, 5 cents
    assert [await send(engine, sms(), other_range) for _ in range(3)] == [
        Action.ALLOW,
        Action.ALLOW,
        Action.BLOCK,
    ]


async def test_explain_shows_the_spend(make_engine: MakeEngine) -> None:
    """`rules explain` shows spend, budget and the message's own cost, writing nothing."""
    engine = await make_engine(TEN_CENTS_A_DAY)
    await send(engine, sms())
    decision = await engine.explain(body("Код 1"), KG)
    (step,) = [t for t in decision.trace if t.rule_id == "budget-kg"]
    assert step.detail == (
        "within budget: for KG daily: $0.05 of $0.10 spent, this message $0.05 (1 segment UCS-2)"
    )
    assert await send(engine, sms()) is Action.ALLOW  # explain reserved nothing
