"""`smsguard rules check | test | explain`, invoked with argv lists."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.clock import SystemClock
from gateway.policy.cli import register
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.velocity import HASH_KEY_NAME, RedisVelocity
from tests.policy.helpers import signals, sms, write_rules

REPO = Path(__file__).resolve().parents[2]

RULES = """
rules:
  - id: premium
    description: premium-rate number
    conditions: {signal: phone.type, equals: PREMIUM_RATE}
    action: block
  - id: per-number
    description: 2 per number per 10 minutes
    velocity: {key: recipient, limits: [{max: 2, per: 10m}]}
    action: block
"""
TESTS = """
cases:
  - name: premium is refused
    request: {recipient: "+449012345678"}
    expect: {action: block, rule: premium}
  - name: the third code is refused
    repeat: 3
    expect: {action: block, rule: per-number, status: 429}
"""


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.delenv("SMSGUARD_CONFIG", raising=False)
    parser = argparse.ArgumentParser(prog="smsguard")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_check_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rules check` on a valid set prints a summary and exits 0."""
    write_rules(tmp_path, {"10-a.yaml": RULES})
    assert run(["rules", "check", str(tmp_path)], monkeypatch) == 0
    assert "ok: 2 rules (0 in shadow mode) in 1 file(s)" in capsys.readouterr().out


def test_check_prints_every_error_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rules check` prints each problem as file:line:col and exits 1."""
    write_rules(
        tmp_path, {"10-a.yaml": RULES.replace("PREMIUM_RATE", "PREMIUM").replace("10m", "10 min")}
    )
    assert run(["rules", "check", str(tmp_path)], monkeypatch) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{tmp_path / '10-a.yaml'}:4:38: unknown number type 'PREMIUM'")
    assert err[1].startswith(f"{tmp_path / '10-a.yaml'}:8:50: `per` is a duration")
    assert err[2] == f"{tmp_path}: 2 error(s)"


def test_test_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rules test` runs the cases next to the rules and exits 0 when all pass."""
    write_rules(tmp_path, {"10-a.yaml": RULES, "tests/cases.yaml": TESTS})
    assert run(["rules", "test", str(tmp_path)], monkeypatch) == 0
    assert "2 case(s): 2 passed, 0 failed" in capsys.readouterr().out


def test_test_failure_prints_a_diff_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing case names its file:line, what differs, and the trace."""
    write_rules(
        tmp_path, {"10-a.yaml": RULES, "tests/cases.yaml": TESTS.replace("repeat: 3", "repeat: 2")}
    )
    assert run(["rules", "test", str(tmp_path)], monkeypatch) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {tmp_path / 'tests' / 'cases.yaml'}:5:5: the third code is refused" in out
    assert "- action: expected block, got allow" in out
    assert "- rule: expected per-number, got default" in out
    assert "[ ] per-number: under limit: recipient +44*******456: 1 in 10m (limit 2)" in out
    assert "1 failed" in out


def test_test_reports_rules_without_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rules no case exercises are listed."""
    cases = TESTS.split("  - name: the third")[0]
    write_rules(tmp_path, {"10-a.yaml": RULES, "tests/cases.yaml": cases})
    assert run(["rules", "test", str(tmp_path)], monkeypatch) == 0
    assert "rules without a test case: per-number" in capsys.readouterr().out


def test_bad_test_file_is_reported_with_locations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Test files are validated strictly too."""
    write_rules(
        tmp_path, {"10-a.yaml": RULES, "tests/cases.yaml": TESTS.replace("repeat: 3", "repaet: 3")}
    )
    assert run(["rules", "test", str(tmp_path)], monkeypatch) == 1
    assert "cases.yaml:6:5: unknown key 'repaet'" in capsys.readouterr().err


def test_shipped_rule_set_passes_its_tests_and_covers_every_rule(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rules/ folder the product ships passes `rules test`, and every rule has a case."""
    assert run(["rules", "test", str(REPO / "rules")], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out
    assert "rules without a test case" not in out


async def test_explain_reads_counters_without_writing(
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`rules explain` prints every rule and why, with the live counters, and writes none."""
    folder = write_rules(tmp_path, {"10-a.yaml": RULES})
    client: Redis = Redis.from_url(redis_url)
    clock = SystemClock()
    store = RedisVelocity(client, clock=clock)
    await store.start()  # as the gateway does: the shared counter-key secret
    engine = RuleEngine(load_rules(folder), store, clock=clock)
    for _ in range(2):
        await engine.decide(sms(), signals())
    keys = [k for k in await client.keys("*") if k != HASH_KEY_NAME.encode()]
    monkeypatch.setenv("SMSGUARD_REDIS__URL", redis_url)
    argv = [
        "rules",
        "explain",
        "--recipient",
        "+447400123456",
        "--ip",
        "203.0.113.7",
        "--ua",
        "Mozilla/5.0 Chrome/126.0",
        "--rules",
        str(folder),
    ]
    # the CLI runs its own event loop: run it in a thread from this async test
    import asyncio

    rc = await asyncio.to_thread(run, argv, monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0
    assert "  -   premium: phone.type='MOBILE' equals 'PREMIUM_RATE': no" in out
    assert "MATCH per-number: over limit: recipient +44*******456: 2 in 10m (limit 2)" in out
    assert "decision: block (status 429) by per-number" in out
    assert "(not written)" in out
    members = [await client.zcard(k) for k in keys]
    assert members == [2]
    await client.aclose()


def test_explain_without_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--no-redis explains with empty counters and says so."""
    folder = write_rules(tmp_path, {"10-a.yaml": RULES})
    argv = [
        "rules",
        "explain",
        "--recipient",
        "+449012345678",
        "--rules",
        str(folder),
        "--no-redis",
        "--signal",
        "ip.hosting=true",
    ]
    assert run(argv, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "decision: block (status 403) by premium: premium-rate number" in out
    assert "counters: not read (--no-redis)" in out


def test_cases_naming_unknown_rules_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A case expecting a rule id that does not exist is reported, not run."""
    write_rules(
        tmp_path,
        {"10-a.yaml": RULES, "tests/cases.yaml": TESTS.replace("rule: premium", "rule: premum")},
    )
    assert run(["rules", "test", str(tmp_path)], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "cases.yaml:2:5: premium is refused: unknown rule 'premum'" in err


def test_check_never_prints_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with a control character or absurd nesting is an error line, exit 1."""
    deep = "{not: " * 3000 + "{signal: ua, equals: x}" + "}" * 3000
    (tmp_path / "10-a.yaml").write_text(RULES.replace("premium-rate", "premium\x07rate"))
    (tmp_path / "20-b.yaml").write_text(
        f"rules:\n  - id: a\n    description: a\n    action: block\n    conditions: {deep}\n"
    )
    assert run(["rules", "check", str(tmp_path)], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == f"{tmp_path}: 2 error(s)"


def test_explain_with_redis_unreachable_warns_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counters that cannot be read are said loudly, and the exit code is 3."""
    folder = write_rules(tmp_path, {"10-a.yaml": RULES})
    monkeypatch.setenv("SMSGUARD_REDIS__URL", "redis://127.0.0.1:1/0")
    argv = ["rules", "explain", "--recipient", "+447400123456", "--rules", str(folder)]
    assert run(argv, monkeypatch) == 3
    captured = capsys.readouterr()
    assert "counters: NOT READ (redis unreachable)" in captured.out
    assert "WARNING: the velocity counters could not be read from Redis" in captured.err
