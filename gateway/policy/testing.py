"""`rules test`: the YAML test cases of a rule set (gateway/policy/testcases.py), run like a unit
test suite. Each case runs on a fresh in-memory velocity store and a FakeClock: no Redis is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.clock import FakeClock
from gateway.errors import Problem
from gateway.models import Decision, SmsRequest
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import RuleSet
from gateway.policy.signalnames import SIGNALS
from gateway.policy.testcases import Case, Step, TestFile, load_test_files
from gateway.signals import SignalExtractor, Signals
from gateway.velocity import LocalVelocity

__all__ = [
    "Case",
    "CaseResult",
    "Step",
    "TestFile",
    "build_request",
    "check_references",
    "covered_rules",
    "load_test_files",
    "override_signals",
    "run_case",
]


@dataclass
class CaseResult:
    case: Case
    ok: bool
    decision: Decision
    diff: list[str] = field(default_factory=list)


def build_request(request: dict[str, object], request_id: str, now: float) -> SmsRequest:
    geoip = request.get("geoip")
    return SmsRequest(
        request_id=request_id,
        received_at=now,
        shape="sms_gateway",
        recipient=str(request.get("recipient", "")),
        body=str(request.get("body", "")),
        ip=None if request.get("ip") is None else str(request["ip"]),
        user_agent=None if request.get("ua") is None else str(request["ua"]),
        language=None if request.get("language") is None else str(request["language"]),
        auth0_geoip=geoip if isinstance(geoip, dict) else None,
        message_type=None if request.get("message_type") is None else str(request["message_type"]),
    )


def override_signals(signals: Signals, overrides: dict[str, object]) -> Signals:
    for name, value in overrides.items():
        assign = SIGNALS[name].assign
        if assign is not None:
            signals = assign(signals, value)
    return signals


async def run_case(rules: RuleSet, case: Case, extractor: SignalExtractor) -> CaseResult:
    clock = FakeClock()
    store = LocalVelocity()
    engine = RuleEngine(rules, store, clock=clock)
    final = case.final
    last = final.at(final.repeat - 1)
    sms = build_request(last, "final", clock.time())
    signals = override_signals(extractor.compute(sms), final.signals)
    for rule_id, count in case.counters.items():
        _preload(rules, store, rule_id, count, signals, clock.time())
    n = 0
    for step in case.before:
        for i in range(step.repeat):
            n += 1
            await _send(engine, extractor, step, step.at(i), f"t{n}", clock)
            clock.advance(step.advance)
    for i in range(final.repeat - 1):
        n += 1
        await _send(engine, extractor, final, final.at(i), f"t{n}", clock)
        clock.advance(final.advance)
    sms = build_request(last, "final", clock.time())
    signals = override_signals(extractor.compute(sms), final.signals)
    decision = await engine.decide(sms, signals, explain=True)
    return _compare(case, decision)


def _preload(
    rules: RuleSet, store: LocalVelocity, rule_id: str, count: int, signals: Signals, now: float
) -> None:
    rule = rules.rule(rule_id)
    if rule is None or rule.velocity is None:
        return  # reported by check_references
    values = rule.velocity.values(signals)
    if values is not None:  # unknown key signal: the rule does not count this request anyway
        store.preload(store.keys.key(rule.id, values), count, now)


async def _send(
    engine: RuleEngine,
    extractor: SignalExtractor,
    step: Step,
    request: dict[str, object],
    request_id: str,
    clock: FakeClock,
) -> None:
    sms = build_request(request, request_id, clock.time())
    signals = override_signals(extractor.compute(sms), step.signals)
    decision = await engine.decide(sms, signals)
    await engine.settle(sms, signals, decision, decision.action.value == "allow")


def _compare(case: Case, d: Decision) -> CaseResult:
    e = case.expect
    diff: list[str] = []
    want_rule = e.get("rule")
    want_rule = None if want_rule in (None, "default") else str(want_rule)
    if d.action.value != e.get("action"):
        diff.append(f"action: expected {e.get('action')}, got {d.action.value}")
    if d.rule_id != want_rule:
        diff.append(f"rule: expected {want_rule or 'default'}, got {d.rule_id or 'default'}")
    if "status" in e and d.status != e["status"]:
        diff.append(f"status: expected {e['status']}, got {d.status}")
    if "tags" in e and sorted(d.tags) != expected_ids(e["tags"]):
        diff.append(f"tags: expected {expected_ids(e['tags'])}, got {sorted(d.tags)}")
    if "shadow" in e:
        got = sorted(h.rule_id for h in d.shadow)
        if got != expected_ids(e["shadow"]):
            diff.append(f"shadow: expected {expected_ids(e['shadow'])}, got {got}")
    if "reason" in e and str(e["reason"]) not in d.reason:
        diff.append(f"reason: expected it to contain {e['reason']!r}, got {d.reason!r}")
    return CaseResult(case, not diff, d, diff)


def expected_ids(value: object) -> list[str]:
    """An `expect:` list of rule ids or tags (`shadow`, `tags`), sorted; absent or empty: none."""
    if not value:
        return []
    items = value if isinstance(value, list | tuple | str) else [value]
    return sorted(str(v) for v in items)


def check_references(rules: RuleSet, files: Sequence[TestFile]) -> list[Problem]:
    """Cases naming rules that do not exist (a typo would otherwise read as a failing rule)."""
    ids = {r.id for r in rules.rules}
    velocity = {r.id for r in rules.rules if r.velocity is not None}
    problems: list[Problem] = []
    for tf in files:
        for case in tf.cases:
            e = case.expect
            named = [] if e.get("rule") in (None, "default") else [str(e["rule"])]
            named += expected_ids(e.get("shadow"))
            for rule_id in named:
                if rule_id not in ids:
                    problems.append(
                        Problem(case.location, f"{case.name}: unknown rule {rule_id!r}")
                    )
            for rule_id in case.counters:
                if rule_id not in velocity:
                    problems.append(
                        Problem(
                            case.location,
                            f"{case.name}: counters: {rule_id!r} is not a "
                            "velocity rule of this rule set",
                        )
                    )
    return problems


def covered_rules(results: Sequence[CaseResult]) -> set[str]:
    """Rule ids a case expects to decide, tag or shadow-hit."""
    out: set[str] = set()
    for r in results:
        e = r.case.expect
        if e.get("rule") not in (None, "default"):
            out.add(str(e["rule"]))
        out.update(expected_ids(e.get("shadow")))
        out.update(expected_ids(e.get("tags")))
    return out
