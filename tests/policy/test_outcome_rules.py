"""Rules over completion feedback, decided in the one Redis call of the decision (real Redis)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.feedback.keys import FeedbackKeys, SendDims
from gateway.feedback.store import Completion, FeedbackStore, Sent, StoreConfig
from gateway.models import Action
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.velocity import CounterKeys, LocalVelocity, RedisVelocity
from tests.policy.helpers import signals, sms, write_rules
from tests.velocity.helpers import commandstats

T0 = 1_700_000_000.0
SECRET = b"outcome-test-secret"
GB = "+447400123456"

UNVERIFIED_BUDGET = """
rules:
  - id: unverified-budget
    description: codes to unverified numbers in one country beyond its verified history
    conditions: {signal: recipient.verified, equals: false}
    velocity:
      key: phone.country
      count: sent
      limits: [{per: 24h, learned: {factor: 2, floor: 2}}]
    action: block
"""

COLLAPSE = """
rules:
  - id: range-collapse
    description: the range's codes are not used
    conditions:
      all:
        - {signal: phone.range4.sent.1h, ge: 3}
        - {signal: phone.range4.conversion.1h, lt: 0.2}
        - {signal: recipient.verified, equals: false}
    action: block
  - id: after
    description: any code after the collapse rule
    velocity: {key: ip, limits: [{max: 100, per: 1h}]}
    action: block
"""


def _feedback(redis: Redis) -> FeedbackStore:
    return FeedbackStore(redis, FeedbackKeys(CounterKeys(SECRET)), StoreConfig())


async def _engine(redis: Redis, tmp_path: Path, text: str, clock: FakeClock) -> RuleEngine:
    store = RedisVelocity(redis, clock=clock)
    await store.start(SECRET)
    rules = load_rules(write_rules(tmp_path / "rules", {"r.yaml": text}))
    return RuleEngine(rules, store, clock=clock, feedback_configured=True)


def _sent(e164: str, at: float, n: int) -> Sent:
    return Sent(SendDims(e164=e164, cc="GB", ip="203.0.113.7"), at, f"c{n}")


async def test_a_learned_budget_grows_from_its_floor_and_exempts_verified_numbers(
    redis: Redis, tmp_path: Path
) -> None:
    """One verified login: floor + factor new numbers pass; a verified recipient is not counted."""
    clock = FakeClock(T0)
    engine = await _engine(redis, tmp_path, UNVERIFIED_BUDGET, clock)
    fb = _feedback(redis)
    await fb.record_sent([_sent("+447400000009", T0 - 100, 0)], T0)
    await fb.apply([Completion("+447400000009", T0 - 50)], T0)
    actions = []
    for n in range(5):
        d = await engine.decide(sms(f"+44740011100{n}"), signals(e164=f"+44740011100{n}"))
        actions.append(d.action)
    # one verified login today: limit 2 + 2 x 1 = 4
    assert actions == [Action.ALLOW] * 4 + [Action.BLOCK]
    verified = await engine.decide(sms("+447400000009"), signals(e164="+447400000009"))
    assert verified.action is Action.ALLOW


async def test_the_learned_limit_grows_with_verified_logins(redis: Redis, tmp_path: Path) -> None:
    """Five verified logins today: 2 + 2 x 5 = 12 unverified codes pass, the 13th is refused."""
    clock = FakeClock(T0)
    engine = await _engine(redis, tmp_path, UNVERIFIED_BUDGET, clock)
    fb = _feedback(redis)
    for n in range(5):
        e164 = f"+44740000001{n}"
        await fb.record_sent([_sent(e164, T0 - 100, n)], T0)
        await fb.apply([Completion(e164, T0 - 50)], T0)
    actions = [
        (
            await engine.decide(sms(f"+4474002220{n:02d}"), signals(e164=f"+4474002220{n:02d}"))
        ).action
        for n in range(13)
    ]
    assert actions == [Action.ALLOW] * 12 + [Action.BLOCK]


async def test_a_collapsed_range_is_refused_with_its_figures_and_stops_later_counters(
    redis: Redis, tmp_path: Path
) -> None:
    """Three codes to a range, none used: the next is refused, the reason shows the figures,
    and the later counter is not touched."""
    clock = FakeClock(T0)
    engine = await _engine(redis, tmp_path, COLLAPSE, clock)
    fb = _feedback(redis)
    await fb.record_sent([_sent(f"+44740012300{n}", T0 - 60, n) for n in range(3)], T0)
    d = await engine.decide(sms(GB), signals(e164=GB))
    assert d.action is Action.BLOCK
    assert d.rule_id == "range-collapse"
    assert "phone.range4.sent.1h=3" in d.reason
    assert "phone.range4.conversion.1h=0.00" in d.reason
    assert await redis.keys("{sgv}:after:*") == []


async def test_a_range_whose_codes_are_used_is_not_refused(redis: Redis, tmp_path: Path) -> None:
    """Three codes to a range, two used: conversion 67%, the request passes the collapse rule."""
    clock = FakeClock(T0)
    engine = await _engine(redis, tmp_path, COLLAPSE, clock)
    fb = _feedback(redis)
    await fb.record_sent([_sent(f"+44740012300{n}", T0 - 60, n) for n in range(3)], T0)
    await fb.apply([Completion(f"+44740012300{n}", T0 - 30) for n in range(2)], T0)
    d = await engine.decide(sms(GB), signals(e164=GB))
    assert d.action is Action.ALLOW
    assert await redis.keys("{sgv}:after:*") != []


async def test_without_feedback_learned_limits_and_outcome_rules_do_nothing(
    redis: Redis, tmp_path: Path
) -> None:
    """feedback not configured: outcome signals are unknown, learned limits are not counted."""
    clock = FakeClock(T0)
    store = RedisVelocity(redis, clock=clock)
    await store.start(SECRET)
    rules = load_rules(write_rules(tmp_path / "rules", {"r.yaml": UNVERIFIED_BUDGET}))
    engine = RuleEngine(rules, store, clock=clock)
    for n in range(5):
        d = await engine.decide(sms(f"+44740011100{n}"), signals(e164=f"+44740011100{n}"))
        assert d.action is Action.ALLOW
    assert await redis.keys("{sgv}:unverified-budget:*") == []


async def test_local_counters_use_the_state_a_rule_test_gives(tmp_path: Path) -> None:
    """`rules test`: the learned limit comes from the given verified_daily_max (2 + 2 x 1)."""
    clock = FakeClock(T0)
    rules = load_rules(write_rules(tmp_path / "rules", {"r.yaml": UNVERIFIED_BUDGET}))
    engine = RuleEngine(rules, LocalVelocity(), clock=clock, feedback_configured=True)
    given = signals().with_state(
        {"recipient.verified": False, "phone.country.verified_daily_max": 1}
    )
    actions = [(await engine.decide(sms(), given)).action for _ in range(5)]
    assert actions == [Action.ALLOW] * 4 + [Action.BLOCK]


async def test_the_shipped_rules_with_feedback_make_one_redis_call_per_decision(
    redis: Redis,
) -> None:
    """Shipped rules, feedback on: each decision is one EVALSHA and nothing else (commandstats)."""
    clock = FakeClock(T0)
    store = RedisVelocity(redis, clock=clock)
    await store.start(SECRET)
    rules = load_rules(Path(__file__).parents[2] / "rules")
    assert rules.state is not None  # the shipped rules read outcome signals
    engine = RuleEngine(rules, store, clock=clock, feedback_configured=True)
    before = await commandstats(redis)
    for n in range(20):
        e164 = f"+4474001234{n:02d}"
        await engine.decide(sms(e164), signals(e164=e164))
    after = await commandstats(redis)
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert calls.pop("evalsha") == 20
    assert calls.pop("info") == 1  # the first commandstats read itself
    # Commands the script runs inside its one call count too; nothing else was sent.
    inside = {"exists", "hmget", "zcount", "zadd", "pexpire", "zremrangebyscore", "zrem"}
    assert {k for k, v in calls.items() if v} <= inside


async def test_a_budget_exempting_verified_recipients_reads_the_marker_in_the_script(
    redis: Redis, tmp_path: Path
) -> None:
    """Feedback on: a number that logged in is not counted by `exempt: verified_recipients`."""
    clock = FakeClock(T0)
    text = """
rules:
  - id: budget-kg
    description: SMS to Kyrgyzstan
    conditions: {signal: phone.country, in: [KG]}
    budget: {key: country, max: 0.10, per: day, exempt: verified_recipients}
    action: block
"""
    engine = await _engine(redis, tmp_path, text, clock)
    fb = _feedback(redis)
    e164 = "+996555123456"
    await fb.record_sent([Sent(SendDims(e164=e164, cc="KG"), T0 - 100, "c0")], T0)
    await fb.apply([Completion(e164, T0 - 50)], T0)
    kg = signals(phone_country="KG", e164=e164, calling_code=996)
    for _ in range(5):
        decision = await engine.decide(sms(e164), kg)
        assert decision.action is Action.ALLOW
        await engine.settle(sms(e164), kg, decision, True)
    other = signals(phone_country="KG", e164="+996555000111", calling_code=996)
    actions = []
    for _ in range(3):
        decision = await engine.decide(sms("+996555000111"), other)
        actions.append(decision.action)
        await engine.settle(sms("+996555000111"), other, decision, True)
    assert actions[-1] is Action.BLOCK
