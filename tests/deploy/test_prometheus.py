"""deploy/prometheus and deploy/grafana: the alerting rules and the dashboard hold together.

`promtool` (Debian's prometheus package, installed by `make test`) checks the rules and runs their
unit tests; the metric names both files use are checked against the gateway's own registry, so a
renamed metric cannot silently leave an alert that never fires.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import Metric

from gateway.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts.test.yaml"
DASHBOARD = DEPLOY / "grafana" / "smsguard-dashboard.json"
METRIC_NAME = re.compile(r"\bsmsguard_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (make test installs Debian's prometheus package)")
    return path


def exported_names() -> set[str]:
    """Every series name the gateway's /metrics can expose."""
    families: list[Metric] = list(Metrics().registry.collect())
    return {f.name + suffix for f in families for suffix in SUFFIXES[f.type]}


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p["targets"]]


def test_promtool_accepts_the_rules() -> None:
    """`promtool check rules` accepts deploy/prometheus/alerts.yaml."""
    run = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_alert_unit_tests_pass() -> None:
    """The alerts fire on the series in alerts.test.yaml, and stay quiet where they should."""
    run = subprocess.run(
        [promtool(), "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_alerts_use_only_exported_metrics() -> None:
    """Every metric an alert reads is one the gateway exports."""
    used = set(METRIC_NAME.findall(ALERTS.read_text()))
    assert used, "no smsguard metric found in alerts.yaml"
    assert used <= exported_names(), used - exported_names()


def test_dashboard_uses_only_exported_metrics() -> None:
    """Every metric a Grafana panel reads is one the gateway exports."""
    used = {name for expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    assert used <= exported_names(), used - exported_names()


def test_every_metric_has_a_dashboard_panel() -> None:
    """Each metric family the gateway exports is drawn on the Grafana dashboard."""
    used = {name for expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    families = {f.name for f in Metrics().registry.collect()}
    missing = {f for f in families if not any(u.startswith(f) for u in used)}
    assert not missing, f"metrics without a panel: {sorted(missing)}"


def test_dashboard_datasource_is_an_import_input() -> None:
    """The dashboard asks for its Prometheus data source on import instead of naming one."""
    board = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    sources = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    assert sources == {"${DS_PROMETHEUS}"}
