"""`smsguard serve` as a real process for tests: a settings file with the sandbox provider, the
process started, waited for until /healthz answers, and killed if it outlives the test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.redisproc import RedisProcess, free_port
from tests.auth0 import SECRET


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"smsguard exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("smsguard did not start")


@contextmanager
def serve_process(
    tmp_path: Path, redis_server: RedisProcess, *, log_level: str = "debug"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A running `smsguard serve` logging JSON to its stderr pipe: (base URL, process)."""
    port = free_port()
    config = tmp_path / "smsguard.yaml"
    config.write_text(
        f"server: {{host: 127.0.0.1, port: {port}}}\n"
        f"redis: {{url: '{redis_server.url}'}}\n"
        "auth0: {gateway_secret: {env: TEST_GATEWAY_SECRET}}\n"
        "rules: {watch: false}\n"
        f"logging: {{format: json, level: {log_level}}}\n"
        "providers:\n  - {name: sandbox, type: sandbox, expose: false}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TEST_GATEWAY_SECRET": SECRET},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
