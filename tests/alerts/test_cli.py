"""`smsguard alerts test` sends one test alert to every notifier and says how each went."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml

from tests.alerts.conftest import Receivers, verify_signature


async def run_cli(config: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "alerts",
        "test",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


def write_config(tmp_path: Path, receivers: Receivers) -> Path:
    path = tmp_path / "smsguard.yaml"
    path.write_text(yaml.safe_dump({"alerts": receivers.config()}))
    return path


async def test_alerts_test_reaches_every_notifier(tmp_path: Path, receivers: Receivers) -> None:
    """Every receiver gets the test alert; the command prints ok for each and exits 0."""
    code, out = await run_cli(write_config(tmp_path, receivers))
    assert code == 0, out
    assert out.splitlines() == ["secops: ok", "oncall: ok", "siem: ok"]
    assert len(receivers.slack.bodies) == len(receivers.pagerduty.bodies) == 1
    assert verify_signature(receivers.webhook.headers[0])


async def test_alerts_test_names_the_notifier_that_failed(
    tmp_path: Path, receivers: Receivers
) -> None:
    """A receiver answering 403 makes the command exit 1 and say which one and why."""
    receivers.pagerduty.status = 403
    code, out = await run_cli(write_config(tmp_path, receivers))
    assert code == 1
    assert "oncall: FAILED: answered 403" in out.splitlines()
