"""`rules test`: YAML test cases for a rule set, run like a unit test suite.

A test file (rules/tests/*.yaml):

    templates: ["Your code is @@password@@"]     # optional: expected templates (body.template_ok)
    defaults:                                    # optional: request fields every case starts from
      recipient: "+447400123456"
      ip: 203.0.113.7
      ua: "Mozilla/5.0 ... Chrome/126.0 Safari/537.36"
    cases:
      - name: the sixth message in ten minutes to one number is refused
        before:                                  # optional: earlier requests (counters)
          - {repeat: 5, advance: 1m}             # the same request 5 times, 1 minute apart
        request: {recipient: "+447400123456"}   # merged over `defaults`
        signals: {ip.asn: 16509, ip.hosting: true}   # optional: override computed signals
        expect: {action: block, rule: per-number-10m, status: 429}
      - name: a country over its hourly cap is refused
        counters: {country-hourly-cap: 300}     # preload a rule's counter for this request
        expect: {action: block, rule: country-hourly-cap}

`repeat: N` sends a request N times (the case's own request: the last one is the one checked);
`advance` moves the clock after each repetition (30s, 10m, 24h; in `before` steps and in the
case itself); `vary: [recipient, range, ip, ip-net]` changes, at each repetition, the recipient
(+1: consecutive numbers), the number range (+10,000: the 6th national digit and up, so each
repetition is in another 6-digit range), the IP (+1) or the network (the next /24 or /64).
Each case runs on a fresh in-memory velocity store and a FakeClock: no Redis is needed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.clock import FakeClock
from gateway.errors import ConfigError, Location, Problem
from gateway.models import Decision, SmsRequest
from gateway.policy.conditions import ParseContext
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import RuleSet, parse_duration
from gateway.policy.signalnames import SIGNALS
from gateway.signals import SignalExtractor, Signals
from gateway.velocity import LocalVelocity
from gateway.yamlsrc import load_yaml

REQUEST_KEYS = ("recipient", "ip", "ua", "body", "language", "geoip", "message_type")
CASE_KEYS = (
    "name",
    "request",
    "signals",
    "before",
    "repeat",
    "advance",
    "vary",
    "counters",
    "expect",
)
STEP_KEYS = ("request", "signals", "repeat", "advance", "vary")
VARY = ("recipient", "range", "ip", "ip-net")
EXPECT_KEYS = ("action", "rule", "status", "tags", "shadow", "reason")
DEFAULT_REQUEST: dict[str, Any] = {
    "recipient": "+447400123456",
    "ip": "203.0.113.7",
    "ua": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "body": "Your verification code is: 123456",
    "language": "en",
}


@dataclass
class Step:
    request: dict[str, Any]
    signals: dict[str, Any]
    repeat: int = 1
    advance: int = 0
    vary: tuple[str, ...] = ()

    def at(self, i: int) -> dict[str, Any]:
        """The request of repetition `i` (0-based), varied as asked."""
        if not self.vary or i == 0:
            return self.request
        out = dict(self.request)
        number = str(out.get("recipient") or "").lstrip("+")
        if number.isdigit():
            bump = (1 if "recipient" in self.vary else 0) + (10_000 if "range" in self.vary else 0)
            if bump:
                out["recipient"] = "+" + str(int(number) + bump * i)
        if out.get("ip") and ("ip" in self.vary or "ip-net" in self.vary):
            address = ipaddress.ip_address(str(out["ip"]))
            step = 1
            if "ip-net" in self.vary:  # the next /24 (IPv4) or /64 (IPv6)
                step = 256 if address.version == 4 else 1 << 64
            out["ip"] = str(address + step * i)
        return out


@dataclass
class Case:
    name: str
    location: Location
    before: list[Step]
    final: Step
    expect: dict[str, Any]
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class TestFile:
    path: str
    templates: list[str]
    cases: list[Case]


@dataclass
class CaseResult:
    case: Case
    ok: bool
    decision: Decision
    diff: list[str] = field(default_factory=list)


def load_test_files(paths: Sequence[Path]) -> list[TestFile]:
    """Parse test files strictly; ConfigError with every problem."""
    problems: list[Problem] = []
    out: list[TestFile] = []
    for path in paths:
        try:
            data, locator = load_yaml(path.read_text(encoding="utf-8"), str(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        ctx = ParseContext(locator, {})
        out.append(_parse_file(str(path), data, ctx))
        problems.extend(ctx.problems)
    if problems:
        raise ConfigError(problems)
    return out


def _parse_file(path: str, data: Any, ctx: ParseContext) -> TestFile:
    tf = TestFile(path, [], [])
    if not isinstance(data, dict):
        ctx.error((), "a test file is a mapping with `cases:` (and optional defaults, templates)")
        return tf
    for key in data:
        if key not in ("cases", "defaults", "templates"):
            ctx.error((key,), f"unknown key {key!r} (allowed: cases, defaults, templates)")
    templates = data.get("templates", [])
    if not isinstance(templates, list) or not all(isinstance(t, str) for t in templates):
        ctx.error(("templates",), "`templates` is a list of strings")
    else:
        tf.templates = templates
    defaults = dict(DEFAULT_REQUEST)
    defaults.update(_request(data.get("defaults", {}), ctx, ("defaults",)))
    cases = data.get("cases")
    if not isinstance(cases, list) or not cases:
        ctx.error(("cases",) if "cases" in data else (), "`cases` is a non-empty list")
        return tf
    for i, raw in enumerate(cases):
        case = _parse_case(raw, defaults, ctx, ("cases", i))
        if case is not None:
            tf.cases.append(case)
    return tf


def _parse_case(
    raw: Any, defaults: dict[str, Any], ctx: ParseContext, path: tuple[str | int, ...]
) -> Case | None:
    if not isinstance(raw, dict):
        ctx.error(path, "a case is a mapping with name, request, expect")
        return None
    for key in raw:
        if key not in CASE_KEYS:
            ctx.error((*path, key), f"unknown key {key!r} (allowed: {', '.join(CASE_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        ctx.error(path, "a case needs a `name`")
        name = "?"
    final = _step(raw, defaults, ctx, path, keys=CASE_KEYS)
    before: list[Step] = []
    raw_before = raw.get("before", [])
    if not isinstance(raw_before, list):
        ctx.error(
            (*path, "before"), "`before` is a list of steps {request, signals, repeat, advance}"
        )
        raw_before = []
    for j, step in enumerate(raw_before):
        spath = (*path, "before", j)
        if not isinstance(step, dict):
            ctx.error(spath, "a step is {request, signals, repeat, advance}")
            continue
        for key in step:
            if key not in STEP_KEYS:
                ctx.error((*spath, key), f"unknown key {key!r} (allowed: {', '.join(STEP_KEYS)})")
        # A step starts from the case's own request, so `{repeat: 5}` repeats it.
        base = dict(final.request)
        s = _step(step, base, ctx, spath, keys=STEP_KEYS)
        s.signals = {**final.signals, **s.signals}
        before.append(s)
    expect = raw.get("expect")
    if not isinstance(expect, dict):
        ctx.error(
            (*path, "expect") if "expect" in raw else path,
            "a case needs `expect: {action: ..., rule: ...}`",
        )
        return None
    for key in expect:
        if key not in EXPECT_KEYS:
            ctx.error(
                (*path, "expect", key), f"unknown key {key!r} (allowed: {', '.join(EXPECT_KEYS)})"
            )
    if expect.get("action") not in ("allow", "block", "drop"):
        ctx.error(
            (*path, "expect", "action") if "action" in expect else (*path, "expect"),
            "`expect.action` is allow, block or drop",
        )
    if "rule" not in expect:
        ctx.error((*path, "expect"), "`expect.rule` is required (the rule id, or `default`)")
    counters = raw.get("counters", {})
    if not isinstance(counters, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counters.values()
    ):
        ctx.error((*path, "counters"), "`counters` maps a velocity rule id to a count")
        counters = {}
    return Case(name, ctx.locator.at(path), before, final, expect, dict(counters))


def _step(
    raw: dict[str, Any],
    base: dict[str, Any],
    ctx: ParseContext,
    path: tuple[str | int, ...],
    *,
    keys: tuple[str, ...],
) -> Step:
    request = dict(base)
    request.update(_request(raw.get("request", {}), ctx, (*path, "request")))
    signals = raw.get("signals", {})
    if not isinstance(signals, dict):
        ctx.error((*path, "signals"), "`signals` maps signal names to values")
        signals = {}
    for name in signals:
        spec = SIGNALS.get(str(name))
        if spec is None or spec.assign is None:
            ctx.error((*path, "signals", name), f"unknown signal {name!r}")
    repeat = raw.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 100_000:
        ctx.error((*path, "repeat"), "`repeat` is a positive integer")
        repeat = 1
    advance = 0
    if "advance" in raw:
        parsed = parse_duration(raw["advance"])
        if parsed is None:
            ctx.error((*path, "advance"), "`advance` is a duration: 30s, 10m, 24h")
        else:
            advance = parsed
    vary = raw.get("vary", [])
    vary = [vary] if isinstance(vary, str) else vary
    if not isinstance(vary, list) or any(v not in VARY for v in vary):
        ctx.error((*path, "vary"), f"`vary` lists some of: {', '.join(VARY)}")
        vary = []
    return Step(request, dict(signals), repeat, advance, tuple(vary))


def _request(raw: Any, ctx: ParseContext, path: tuple[str | int, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        ctx.error(path, f"a request is a mapping of {', '.join(REQUEST_KEYS)}")
        return {}
    for key in raw:
        if key not in REQUEST_KEYS:
            ctx.error((*path, key), f"unknown key {key!r} (allowed: {', '.join(REQUEST_KEYS)})")
    return {k: v for k, v in raw.items() if k in REQUEST_KEYS}


def build_request(request: dict[str, Any], request_id: str, now: float) -> SmsRequest:
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


def override_signals(signals: Signals, overrides: dict[str, Any]) -> Signals:
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
    request: dict[str, Any],
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
    if "tags" in e and sorted(d.tags) != sorted(e["tags"] or []):
        diff.append(f"tags: expected {sorted(e['tags'] or [])}, got {sorted(d.tags)}")
    if "shadow" in e:
        got = sorted(h.rule_id for h in d.shadow)
        if got != sorted(e["shadow"] or []):
            diff.append(f"shadow: expected {sorted(e['shadow'] or [])}, got {got}")
    if "reason" in e and str(e["reason"]) not in d.reason:
        diff.append(f"reason: expected it to contain {e['reason']!r}, got {d.reason!r}")
    return CaseResult(case, not diff, d, diff)


def check_references(rules: RuleSet, files: Sequence[TestFile]) -> list[Problem]:
    """Cases naming rules that do not exist (a typo would otherwise read as a failing rule)."""
    ids = {r.id for r in rules.rules}
    velocity = {r.id for r in rules.rules if r.velocity is not None}
    problems: list[Problem] = []
    for tf in files:
        for case in tf.cases:
            e = case.expect
            named = [] if e.get("rule") in (None, "default") else [str(e["rule"])]
            named += [str(s) for s in e.get("shadow") or []]
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
        out.update(str(s) for s in e.get("shadow") or [])
        out.update(str(t) for t in e.get("tags") or [])
    return out
