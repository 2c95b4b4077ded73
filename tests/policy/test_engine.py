"""Evaluation: actions, order, shadow mode, default, velocity semantics and traces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.clock import FakeClock
from gateway.models import Action
from tests.policy.helpers import engine_for, signals, sms, write_rules

RULES = """
rules:
  - id: allow-office
    description: office network
    conditions: {signal: ip, cidr: [192.0.2.0/24]}
    action: allow
  - id: tag-hosting
    description: hosting IP
    conditions: {signal: ip.hosting, equals: true}
    action: tag
    tags: [hosting, review]
  - id: shadow-fixed
    description: fixed line
    conditions: {signal: phone.type, equals: FIXED_LINE}
    action: block
    mode: shadow
  - id: premium
    description: premium-rate number
    conditions: {signal: phone.type, equals: PREMIUM_RATE}
    action: block
  - id: teapot
    description: a custom status
    conditions: {signal: ua.family, equals: curl}
    action: block
    status: 418
  - id: quiet
    description: dropped silently
    conditions: {signal: phone.country, equals: UZ}
    action: drop
default: allow
"""


async def test_default_action_when_nothing_matches(tmp_path: Path) -> None:
    """No final rule matched: the default action decides, with no rule id."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals())
    assert (d.action, d.rule_id, d.status) == (Action.ALLOW, None, 200)
    assert d.reason == "default action (allow)"


async def test_block_has_status_403_by_default(tmp_path: Path) -> None:
    """A block refuses with 403 and the rule's description as reason."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(number_type="PREMIUM_RATE"))
    assert (d.action, d.rule_id, d.status, d.reason) == (
        Action.BLOCK,
        "premium",
        403,
        "premium-rate number",
    )


async def test_block_status_is_configurable(tmp_path: Path) -> None:
    """`status:` sets the HTTP status of a block."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(ua_family="curl"))
    assert (d.rule_id, d.status) == ("teapot", 418)


async def test_drop_answers_200(tmp_path: Path) -> None:
    """A drop is status 200: the caller cannot tell it from a send."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(phone_country="UZ"))
    assert (d.action, d.rule_id, d.status) == (Action.DROP, "quiet", 200)


async def test_first_final_action_wins(tmp_path: Path) -> None:
    """An allow above a block wins: evaluation stops at the first final action."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(ip="192.0.2.5", number_type="PREMIUM_RATE"))
    assert (d.action, d.rule_id) == (Action.ALLOW, "allow-office")


async def test_tags_are_added_and_evaluation_continues(tmp_path: Path) -> None:
    """A tag rule records its tags and the next rules still decide."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(ip_hosting=True, number_type="PREMIUM_RATE"))
    assert (d.rule_id, d.tags) == ("premium", ("hosting", "review"))


async def test_shadow_rule_records_and_never_acts(tmp_path: Path) -> None:
    """A shadow rule that matches is recorded as 'would have blocked'; the message is allowed."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(number_type="FIXED_LINE"))
    assert d.action is Action.ALLOW
    assert [(h.rule_id, h.action, h.reason) for h in d.shadow] == [
        ("shadow-fixed", "block", "fixed line")
    ]


async def test_default_can_block(tmp_path: Path) -> None:
    """A default of block refuses whatever no rule allowed."""
    engine = engine_for(
        write_rules(
            tmp_path,
            {"10-a.yaml": RULES.replace("default: allow", "default: {action: block, status: 451}")},
        )
    )
    d = await engine.decide(sms(), signals())
    assert (d.action, d.rule_id, d.status) == (Action.BLOCK, None, 451)


async def test_explain_traces_every_rule(tmp_path: Path) -> None:
    """With explain=True the trace holds every rule, matched or not, and why."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(
        sms(), signals(ip_hosting=True, number_type="PREMIUM_RATE"), explain=True
    )
    steps = {t.rule_id: t for t in d.trace}
    assert list(steps) == [
        "allow-office",
        "tag-hosting",
        "shadow-fixed",
        "premium",
        "teapot",
        "quiet",
    ]
    assert not steps["allow-office"].matched
    assert steps["allow-office"].detail == "ip='203.0.113.7' cidr [192.0.2.0/24]: no"
    assert steps["premium"].matched
    assert steps["teapot"].detail == "not reached (premium decided)"


async def test_trace_without_explain_is_a_summary(tmp_path: Path) -> None:
    """On the hot path the trace only names the deciding rule and the shadow hits."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RULES}))
    d = await engine.decide(sms(), signals(number_type="FIXED_LINE"))
    assert [(t.rule_id, t.matched) for t in d.trace] == [("default", True), ("shadow-fixed", True)]


VELOCITY = """
rules:
  - id: uk-only-limit
    description: GB numbers, 2 per 10 minutes
    conditions: {signal: phone.country, equals: GB}
    velocity:
      key: recipient
      limits: [{max: 2, per: 10m}]
    action: block
  - id: sent-limit
    description: 3 sent per hour per IP
    velocity:
      key: ip
      count: sent
      limits: [{max: 3, per: 1h}]
    action: drop
  - id: shadow-ip
    description: shadow, 1 per minute per IP
    velocity:
      key: [ip, phone.country]
      limits: [{max: 1, per: 1m}]
    action: block
    mode: shadow
"""


async def test_velocity_block_defaults_to_429_with_a_masked_reason(tmp_path: Path) -> None:
    """Over the limit: block with 429 and a readable reason that masks the number."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}))
    for _ in range(2):
        assert (await engine.decide(sms(), signals())).action is Action.ALLOW
    d = await engine.decide(sms(), signals())
    assert (d.action, d.rule_id, d.status) == (Action.BLOCK, "uk-only-limit", 429)
    assert d.reason == "recipient +44*******456 made 2 attempts in 10m, limit 2"


async def test_velocity_counts_only_when_conditions_match(tmp_path: Path) -> None:
    """A velocity rule whose other conditions do not match neither counts nor refuses."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}))
    fr = signals(phone_country="FR", e164="+33612345678")
    for _ in range(3):
        d = await engine.decide(sms(), fr)
        assert d.rule_id != "uk-only-limit"


async def test_shadow_velocity_rule_records_would_have(tmp_path: Path) -> None:
    """A shadow velocity rule over its limit is a shadow hit; the message goes on."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}))
    await engine.decide(sms(), signals())
    d = await engine.decide(sms(), signals())
    assert d.action is Action.ALLOW
    assert [h.rule_id for h in d.shadow] == ["shadow-ip"]
    assert "ip 203.0.113.7, phone.country GB made 1 attempts in 1m" in d.shadow[0].reason


async def test_count_sent_gives_back_unsent_messages(tmp_path: Path) -> None:
    """`count: sent` reserves at decision time and releases when settle says it was not sent."""
    clock = FakeClock()
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}), clock=clock)
    for i in range(5):  # five messages the provider failed to send
        m, s = sms(f"+4474001234{i:02d}"), signals(e164=f"+4474001234{i:02d}")
        d = await engine.decide(m, s)
        assert d.action is Action.ALLOW
        await engine.settle(m, s, d, False)
    for i in range(3):
        m, s = sms(f"+4474005678{i:02d}"), signals(e164=f"+4474005678{i:02d}")
        d = await engine.decide(m, s)
        assert d.action is Action.ALLOW
        await engine.settle(m, s, d, True)
    d = await engine.decide(sms("+447400999999"), signals(e164="+447400999999"))
    assert (d.action, d.rule_id) == (Action.DROP, "sent-limit")


async def test_refused_request_does_not_consume_later_budgets(tmp_path: Path) -> None:
    """Counting stops at the first rule over its limit: later counters are not touched."""
    rules = """
    rules:
      - id: per-number
        description: 2 per number
        velocity: {key: recipient, limits: [{max: 2, per: 10m}]}
        action: block
      - id: per-ip
        description: 3 per IP
        velocity: {key: ip, limits: [{max: 3, per: 10m}]}
        action: block
    """
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": rules}))
    outcomes = [(await engine.decide(sms(), signals())).rule_id for _ in range(10)]
    assert outcomes == [None, None] + ["per-number"] * 8
    d = await engine.decide(sms("+447400111111"), signals(e164="+447400111111"))
    assert d.action is Action.ALLOW  # per-ip saw 2 attempts, not 10


async def test_unknown_key_signal_skips_the_rule(tmp_path: Path) -> None:
    """A velocity key whose signal is unknown (no IP) does not count or refuse."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}))
    for i in range(6):
        n = f"+4474001234{i:02d}"
        d = await engine.decide(sms(n), signals(e164=n, ip=None))
        assert d.action is Action.ALLOW


async def test_explain_does_not_write_counters(tmp_path: Path) -> None:
    """`explain` reads counters and never adds to them."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}))
    for _ in range(5):
        d = await engine.explain(sms(), signals())
        assert d.action is Action.ALLOW
    assert (await engine.decide(sms(), signals())).action is Action.ALLOW
    over = await engine.explain(sms(), signals())
    step = next(t for t in over.trace if t.rule_id == "shadow-ip")
    assert step.matched
    assert step.detail.startswith("over limit: ip 203.0.113.7, phone.country GB: 1 in 1m")


async def test_rule_metadata_for_the_dashboard(tmp_path: Path) -> None:
    """The engine exposes version, files and each rule's id, description, action and mode."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": VELOCITY}))
    info = {r.id: r for r in engine.rule_info()}
    assert info["shadow-ip"].mode == "shadow"
    assert info["sent-limit"].velocity == "ip: 3/1h (sent)"
    assert info["uk-only-limit"].action == "block"
    assert len(engine.version) == 12
    assert engine.files == (str(tmp_path / "10-a.yaml"),)


async def test_static_refusal_gives_reservations_back(tmp_path: Path) -> None:
    """A `count: sent` rule keeps no reservation for a message a later rule refused."""
    rules = """
    rules:
      - id: sent-cap
        description: 1 sent per number
        velocity: {key: recipient, count: sent, limits: [{max: 1, per: 1h}]}
        action: block
      - id: curl
        description: no curl
        conditions: {signal: ua.family, equals: curl}
        action: block
    """
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": rules}))
    for _ in range(3):
        d = await engine.decide(sms(), signals(ua_family="curl"))
        assert d.rule_id == "curl"
    assert (await engine.decide(sms(), signals())).action is Action.ALLOW


SENT = """
rules:
  - id: sent-daily
    description: per number, messages sent
    velocity: {key: recipient, count: sent, limits: [{max: 5, per: 24h}]}
    action: block
"""


async def test_reservations_of_requests_sharing_an_id_do_not_collide(tmp_path: Path) -> None:
    """Two in-flight requests with one client request id each release their own reservation."""
    from gateway.velocity import LocalVelocity

    store = LocalVelocity()
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": SENT}), store=store)
    m1, m2, s = sms(request_id="same"), sms(request_id="same"), signals()
    d1 = await engine.decide(m1, s)
    d2 = await engine.decide(m2, s)
    await engine.settle(m1, s, d1, False)
    await engine.settle(m2, s, d2, False)
    counts = await store.peek([_check(engine)], 0.0)
    assert counts.results[0] is not None
    assert counts.results[0].counts == (0,)


def _check(engine: Any) -> Any:
    from gateway.velocity import CounterCheck, Window

    key = engine.store.keys.key("sent-daily", ["+447400123456"])
    return CounterCheck(key, (Window(86400, 5),), True)


RANGES = """
rules:
  - id: range
    description: per national range
    velocity: {key: phone.national_prefix:4, limits: [{max: 1, per: 1h}]}
    action: block
  - id: site
    description: per IPv6 /48
    velocity: {key: ip.net48, limits: [{max: 1, per: 1h}]}
    action: block
"""


async def test_national_prefix_keys_exclude_the_country_code(tmp_path: Path) -> None:
    """phone.national_prefix:4 counts +1 201 5xxx and +86 1380 xxx as ranges of equal size."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RANGES}))
    us, cn = "+12015550123", "+8613800138000"
    first = await engine.decide(sms(us), signals(e164=us, calling_code=1))
    second = await engine.decide(sms(us), signals(e164=us, calling_code=1, ip="198.51.100.1"))
    other = await engine.decide(sms(cn), signals(e164=cn, calling_code=86, ip="198.51.100.2"))
    assert first.action is Action.ALLOW
    assert (second.rule_id, second.reason) == (
        "range",
        "national prefix 4 digits 1:2015 made 1 attempts in 1h, limit 1",
    )
    assert other.action is Action.ALLOW


async def test_ipv6_48_key_groups_64s_and_skips_ipv4(tmp_path: Path) -> None:
    """ip.net48 counts every /64 of one IPv6 /48 together; IPv4 requests are not counted."""
    engine = engine_for(write_rules(tmp_path, {"10-a.yaml": RANGES}))
    a, b = "+447400123456", "+447500123456"
    d1 = await engine.decide(sms(a), signals(e164=a, ip="2001:db8:1:1::1"))
    d2 = await engine.decide(sms(b), signals(e164=b, ip="2001:db8:1:ffff::1"))
    v4 = [
        await engine.decide(sms(n), signals(e164=n, ip="203.0.113.7"))
        for n in ("+447600123456", "+447700123456")
    ]
    assert d1.action is Action.ALLOW
    assert (d2.rule_id, d2.reason) == (
        "site",
        "ip.net48 2001:db8:1::/48 made 1 attempts in 1h, limit 1",
    )
    assert [d.action for d in v4] == [Action.ALLOW, Action.ALLOW]
