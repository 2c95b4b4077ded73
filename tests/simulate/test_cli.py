"""`smsguard simulate` on the command line: option errors, and whole runs that repeat exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main

TINY = ["--legit-per-hour", "20", "--warmup-hours", "0.1", "--attack-scale", "0.2", "--no-geoip"]


def run_json(rules_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    code = main(["simulate", "--rules", str(rules_dir), *TINY, "--json", *extra])
    assert code == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.usefixtures("redis_server")
def test_one_report_per_scenario_and_seed(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--scenarios and --seeds give one report for each pair, in that order."""
    reports = run_json(rules_dir, capsys, "--scenarios", "premium-rate,bombing", "--seeds", "1,2")
    assert [(r["scenario"], r["seed"]) for r in reports] == [
        ("premium-rate", 1), ("premium-rate", 2), ("bombing", 1), ("bombing", 2),
    ]  # fmt: skip
    assert all(r["errors"] == 0 and r["real_users"]["total"] > 0 for r in reports)


@pytest.mark.usefixtures("redis_server")
def test_same_seed_same_figures(rules_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs of one scenario and seed report the same figures (only the wall time differs)."""
    first, second = (
        run_json(rules_dir, capsys, "--scenarios", "bombing", "--seeds", "3")[0] for _ in (1, 2)
    )
    for report in (first, second):
        report.pop("elapsed_s")
    assert first == second


@pytest.mark.usefixtures("redis_server")
def test_markdown_table(rules_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--markdown prints the README's table with a row per scenario and seed."""
    args = ["simulate", "--rules", str(rules_dir), *TINY, "--markdown"]
    assert main([*args, "--scenarios", "premium-rate", "--seeds", "1,2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| scenario | seed | real users refused |")
    assert "| `premium-rate` | 2 |" in out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--scenarios", "nope", "unknown nope"),
        ("--seeds", "1,x", "--seeds"),
        ("--countries", "GB:many", "--countries"),
        ("--rules", "/nonexistent/rules", "no such rule folder"),
    ],
)
def test_bad_options_exit_2(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option is explained with exit 2 before anything is played."""
    assert main(["simulate", option, value]) == 2
    assert message in capsys.readouterr().err
