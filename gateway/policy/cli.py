"""`smsguard rules check | test | explain`: the security team's tools for rule files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.cli import load_or_exit
from gateway.clock import SystemClock
from gateway.errors import ConfigError
from gateway.logs import mask_phone
from gateway.policy.loader import RuleSet, load_rules
from gateway.policy.testing import (
    CaseResult,
    TestFile,
    build_request,
    check_references,
    covered_rules,
    load_test_files,
    override_signals,
    run_case,
)
from gateway.settings import Settings
from gateway.signals import SignalExtractor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rules check`, `rules test` and `rules explain` to the smsguard command."""
    rules = sub.add_parser("rules", help="check, test and explain rule files")
    rsub = rules.add_subparsers(dest="rules_command", required=True)

    p = rsub.add_parser("check", help="validate a rule set; print every error; exit 1 on any")
    p.add_argument("path", nargs="?", help="rules folder or file (default: rules.path)")
    p.add_argument("--config", help="settings YAML (for rules.path)")
    p.set_defaults(func=cmd_check)

    p = rsub.add_parser("test", help="run the rule test cases (PATH/tests/*.yaml)")
    p.add_argument("path", nargs="?", help="rules folder (default: rules.path)")
    p.add_argument("--config", help="settings YAML (for rules.path and signals templates)")
    p.add_argument("--tests", help="a test file or folder (default: PATH/tests)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every case")
    p.set_defaults(func=cmd_test)

    p = rsub.add_parser("explain", help="evaluate one request and print why each rule matched")
    p.add_argument("--recipient", required=True, help="E.164 number")
    p.add_argument("--ip")
    p.add_argument("--ua", help="user agent")
    p.add_argument("--body", default="Your verification code is: 123456")
    p.add_argument("--language")
    p.add_argument("--country", help="Auth0 geoip country of the IP (when no GeoIP database)")
    p.add_argument(
        "--signal",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a signal (YAML value), e.g. --signal ip.hosting=true",
    )
    p.add_argument("--config", help="settings YAML (rules.path, redis.url, geoip)")
    p.add_argument("--rules", help="rules folder or file (default: rules.path)")
    p.add_argument("--no-redis", action="store_true", help="do not read counters from Redis")
    p.set_defaults(func=cmd_explain)


def _loaded(config: str | None, rules_arg: str | None) -> tuple[Settings, Path, RuleSet | None]:
    """The settings (every problem printed, exit 2), the rules path (the argument, else
    rules.path) and the rule set loaded from it (None: its problems were printed)."""
    settings = load_or_exit(config)
    path = Path(rules_arg) if rules_arg else settings.rules.path
    return settings, path, _load(path)


def _print_problems(exc: ConfigError) -> None:
    for problem in exc.problems:
        print(problem, file=sys.stderr)


def _load(path: Path) -> RuleSet | None:
    try:
        return load_rules(path)
    except ConfigError as exc:
        _print_problems(exc)
        print(f"{path}: {len(exc.problems)} error(s)", file=sys.stderr)
        return None
    except Exception as exc:  # a bad file never prints a traceback
        print(f"{path}: cannot load the rules: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"{path}: 1 error(s)", file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    _, path, rules = _loaded(args.config, args.path)
    if rules is None:
        return 1
    shadow = sum(r.shadow for r in rules.rules)
    print(
        f"{path}: ok: {len(rules.rules)} rules ({shadow} in shadow mode) in "
        f"{len(rules.files)} file(s), {len(rules.lists)} list(s), version {rules.version}"
    )
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    settings, path, rules = _loaded(args.config, args.path)
    if rules is None:
        return 1
    tests = Path(args.tests) if args.tests else (path if path.is_dir() else path.parent) / "tests"
    files = sorted(tests.glob("*.yaml")) if tests.is_dir() else [tests] if tests.is_file() else []
    if not files:
        print(f"{tests}: no test files (*.yaml)", file=sys.stderr)
        return 1
    try:
        test_files = load_test_files(files)
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    bad_references = check_references(rules, test_files)
    if bad_references:
        _print_problems(ConfigError(bad_references))
        return 1
    templates = list(settings.signals.expected_templates)
    results = asyncio.run(_run_all(rules, test_files, templates))
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.ok and args.verbose:
            print(f"ok    {r.case.location}: {r.case.name}")
        if not r.ok:
            _print_failure(r)
    covered = covered_rules(results)
    missing = [
        rule.id
        for rule in rules.rules
        if rule.id not in covered and not (set(rule.tags) & covered and rule.action == "tag")
    ]
    print(f"{len(results)} case(s): {len(results) - len(failed)} passed, {len(failed)} failed")
    if missing:
        print(f"rules without a test case: {', '.join(missing)}")
    return 1 if failed else 0


async def _run_all(rules: RuleSet, files: list[TestFile], templates: list[str]) -> list[CaseResult]:
    out: list[CaseResult] = []
    for tf in files:
        extractor = SignalExtractor(templates=tf.templates or templates)
        for case in tf.cases:
            out.append(await run_case(rules, case, extractor))
    return out


def _print_failure(r: CaseResult) -> None:
    d = r.decision
    print(f"FAIL  {r.case.location}: {r.case.name}")
    for line in r.diff:
        print(f"      - {line}")
    print(f"      decision: {d.action.value} by {d.rule_id or 'default'}: {d.reason}")
    print("      trace:")
    for step in d.trace:
        mark = "x" if step.matched else " "
        print(f"        [{mark}] {step.rule_id}: {step.detail}")


def cmd_explain(args: argparse.Namespace) -> int:
    import yaml

    settings, _, rules = _loaded(args.config, args.rules)
    if rules is None:
        return 1
    overrides: dict[str, object] = {}
    from gateway.policy.signalnames import SIGNALS

    for item in args.signal:
        name, sep, raw = item.partition("=")
        if not sep or name not in SIGNALS or SIGNALS[name].assign is None:
            print(f"--signal {item}: NAME=VALUE with a known signal name", file=sys.stderr)
            return 2
        overrides[name] = yaml.safe_load(raw)
    request = {
        "recipient": args.recipient,
        "ip": args.ip,
        "ua": args.ua,
        "body": args.body,
        "language": args.language,
    }
    if args.country:
        request["geoip"] = {"countryCode": args.country}
    return asyncio.run(_explain(settings, rules, request, overrides, use_redis=not args.no_redis))


async def _explain(
    settings: Settings,
    rules: RuleSet,
    request: dict[str, object],
    overrides: dict[str, object],
    *,
    use_redis: bool,
) -> int:
    from redis.asyncio import Redis

    from gateway.geoip import GeoIp
    from gateway.policy.engine import RuleEngine
    from gateway.redisclient import build_redis
    from gateway.velocity import LocalVelocity, RedisVelocity, VelocityStore

    clock = SystemClock()
    try:
        geoip = GeoIp.open(settings.geoip, settings.source)
    except ConfigError as exc:
        _print_problems(exc)
        return 2
    extractor = SignalExtractor(geoip=geoip, templates=settings.signals.expected_templates)
    sms = build_request(request, "explain", clock.time())
    signals = override_signals(extractor.compute(sms), overrides)
    client: Redis | None = None
    store: VelocityStore = LocalVelocity()
    counters = "counters: not read (--no-redis)"
    unreadable = ""
    if use_redis:
        client = build_redis(settings.redis, connect_timeout_s=1)
        try:
            await asyncio.wait_for(client.ping(), 2)
            redis_store = RedisVelocity(client, clock=clock, timeout_s=2.0, on_error="allow")
            # The same key secret as the gateway, or the counters read would be other keys.
            secret = settings.rules.counter_hash_key
            await redis_store.start(
                secret.get_secret_value().encode() if secret is not None else None
            )
            if not redis_store.keys.ready:
                raise ConnectionError("cannot read the counter-key secret from Redis")
            store = redis_store
            counters = f"counters: read from {settings.redis.url.split('@')[-1]} (not written)"
        except Exception as exc:
            unreadable = f"{type(exc).__name__}: {exc}"
            counters = "counters: NOT READ (redis unreachable): velocity rules shown as empty"
    try:
        # As the gateway would: outcome signals read (from Redis) when feedback is connected.
        configured = settings.feedback.log_stream.authorization is not None
        engine = RuleEngine(rules, store, clock=clock, feedback_configured=configured)
        decision = await engine.explain(sms, signals)
    finally:
        if isinstance(store, RedisVelocity):
            await store.stop()
        if client is not None:
            await client.aclose()
        geoip.close()
    if any("[redis unavailable" in step.detail for step in decision.trace) and not unreadable:
        unreadable = "a counter read failed"
    print(
        f"request: recipient {mask_phone(sms.recipient)}, ip {sms.ip or '-'}, "
        f"ua {(sms.user_agent or '-')[:60]}"
    )
    print(
        f"signals: country {signals.phone_country or '?'}, type {signals.number_type}, "
        f"valid {signals.phone_valid}, ip.country {signals.ip_country or '?'}, "
        f"asn {signals.asn or '?'}, ua.family {signals.ua_family or '?'}, "
        f"automation {signals.ua_automation}"
    )
    print(f"rules: version {rules.version}; {counters}")
    for step in decision.trace:
        mark = "MATCH" if step.matched else "  -  "
        print(f"  {mark} {step.rule_id}: {step.detail}")
    print(
        f"decision: {decision.action.value} (status {decision.status}) by "
        f"{decision.rule_id or 'default'}: {decision.reason}"
    )
    for hit in decision.shadow:
        print(f"shadow: {hit.rule_id} would have {hit.action}: {hit.reason}")
    if decision.tags:
        print(f"tags: {', '.join(decision.tags)}")
    if unreadable:
        # Exit 3: the trace is printed but the velocity part of it is not the real state.
        print(
            f"WARNING: the velocity counters could not be read from Redis ({unreadable}); "
            "velocity rules were evaluated as if their counters were empty, so this decision "
            "may differ from the gateway's. Use --no-redis to evaluate without counters.",
            file=sys.stderr,
        )
        return 3
    return 0
