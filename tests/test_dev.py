"""`smsguard dev` (what `make run` starts): embedded defaults on a fresh machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from gateway.redisproc import free_port
from tests.auth0 import legacy_payload


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def test_dev_serves_on_embedded_defaults(tmp_path: Path) -> None:
    """`smsguard dev` starts its own Redis, prints the URLs, and a signed message reaches the
    sandbox inbox; on SIGTERM the gateway and its Redis stop."""
    port = free_port()
    data_dir = tmp_path / "run"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SMSGUARD_") and k != "REDIS_URL"
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "dev", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=Path(__file__).parents[1],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if _get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("gateway did not become ready")
        token = subprocess.run(
            [sys.executable, "-m", "gateway", "token", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        req = urllib.request.Request(
            base + "/sms",
            data=json.dumps(legacy_payload("+44 7400 123456")).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        status, body = _get(base + "/sandbox/messages")
        assert status == 200
        messages = json.loads(body)
        assert any(m.get("to") == "+447400123456" for m in messages["messages"])
        assert (data_dir / "redis" / "appendonlydir").exists(), "Redis persists with AOF"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert f"POST {base}/sms" in text
    assert f"{base}/sandbox/messages" in text
    assert proc.returncode == 0, text
