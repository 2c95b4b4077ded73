"""`make bench` in miniature: the harness runs bare app vs smsguard and produces sane figures.

No timing is asserted (the machine is shared); only that every figure exists, is positive and
counts the requests that were sent.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bench import run as harness
from bench.data import Sizes
from bench.report import write_reports

pytestmark = [
    pytest.mark.bench,
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="redis-server is not installed"
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One tiny run: 1 worker, the attack workload, 1 s of wrk (no warm-up), 0.5 s at a fixed
    rate."""
    out = tmp_path_factory.mktemp("results")
    opts = harness.parse_args(
        ["--quick", "--workers", "1", "--workloads", "attack", "--duration", "1", "--out", str(out)]
    )
    opts = replace(
        opts,
        micro_calls=50,
        warmup=0.0,
        fixed_duration=0.5,
        connections=8,
        cache=tmp_path_factory.mktemp("cache"),
        sizes=Sizes(cidrs=2000, prefixes=500, clean_numbers=500, attack_numbers=4),
    )
    result = harness.run(opts)
    write_reports(result, out)
    result["_out"] = out
    return result


def test_saturation_figures_are_positive(report: dict[str, object]) -> None:
    """Both apps answer requests at saturation; smsguard's CPU and Redis use are measured."""
    row = report["workloads"]["attack"]  # type: ignore[index]
    assert row["bare"]["requests"] > 0
    assert row["bare"]["rps"] > 0
    sms = row["smsguard"]
    assert sms["requests"] > 0
    assert sms["rps"] > 0
    assert sms["socket_errors"] == 0
    assert sms["worker_cpu_us_per_req"] > 0
    assert sms["redis_cmds_per_req"] > 0
    assert row["ratio"] > 0


def test_fixed_rate_counts_every_request(report: dict[str, object]) -> None:
    """The open-loop client completes every scheduled request and reports ordered percentiles."""
    row = report["workloads"]["attack"]  # type: ignore[index]
    for key in ("smsguard_fixed", "bare_fixed"):
        fixed = row[key]
        assert fixed["completed"] == fixed["scheduled"] > 0
        assert sum(fixed["statuses"].values()) == fixed["completed"]
        assert 0 < fixed["p50_ms"] <= fixed["p99_ms"] <= fixed["p999_ms"] <= fixed["max_ms"]


def test_reload_and_list_memory_are_measured(report: dict[str, object]) -> None:
    """The rule set reloads on SIGHUP while /healthz is probed; list memory is reported."""
    reload = report["reload"]  # type: ignore[index]
    assert reload["outcome"] == "reloaded"
    assert reload["during_samples"] > 0
    assert report["list_memory"]["rules_with_lists"] > report["list_memory"]["rules_without_lists"]  # type: ignore[index]


def test_reports_are_written(report: dict[str, object]) -> None:
    """latest.md carries the tables and latest.json the targets."""
    out: Path = report["_out"]  # type: ignore[assignment]
    text = (out / "latest.md").read_text()
    assert "## Throughput at saturation" in text
    assert "| attack |" in text
    assert (out / "latest.json").stat().st_size > 0


def test_every_child_process_is_stopped(report: dict[str, object]) -> None:
    """After the run no process the harness started is left (they run in their own groups)."""
    from bench.procs import Proc

    assert Proc.live == []
    assert "errors" not in report
