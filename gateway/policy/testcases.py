"""The `rules test` file format: YAML test cases parsed strictly, every problem located.

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
Running them: gateway/policy/testing.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import ConfigError, Location, Problem
from gateway.policy.conditions import ParseContext
from gateway.policy.loader import parse_duration
from gateway.policy.signalnames import SIGNALS
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
DEFAULT_REQUEST: dict[str, object] = {
    "recipient": "+447400123456",
    "ip": "203.0.113.7",
    "ua": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "body": "Your verification code is: 123456",
    "language": "en",
}


@dataclass
class Step:
    request: dict[str, object]
    signals: dict[str, object]
    repeat: int = 1
    advance: int = 0
    vary: tuple[str, ...] = ()

    def at(self, i: int) -> dict[str, object]:
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
    expect: dict[str, object]
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class TestFile:
    path: str
    templates: list[str]
    cases: list[Case]


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


def _parse_file(path: str, data: object, ctx: ParseContext) -> TestFile:
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
    raw: object, defaults: dict[str, object], ctx: ParseContext, path: tuple[str | int, ...]
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
    raw: dict[str, object],
    base: dict[str, object],
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


def _request(raw: object, ctx: ParseContext, path: tuple[str | int, ...]) -> dict[str, object]:
    if not isinstance(raw, dict):
        ctx.error(path, f"a request is a mapping of {', '.join(REQUEST_KEYS)}")
        return {}
    for key in raw:
        if key not in REQUEST_KEYS:
            ctx.error((*path, key), f"unknown key {key!r} (allowed: {', '.join(REQUEST_KEYS)})")
    return {k: v for k, v in raw.items() if k in REQUEST_KEYS}
