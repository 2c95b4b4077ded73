"""`smsguard serve` as operators run it: a real process, a settings file, its log lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.redisproc import RedisProcess, free_port
from tests.auth0 import SECRET, auth_headers, legacy_payload
from tests.serving import serve_process, wait_ready

NUMBERS = ["+447400123456", "+447400654321", "+14155550123"]


def _post(url: str, body: dict[str, object], headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture
def served(
    tmp_path: Path, redis_server: RedisProcess
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with serve_process(tmp_path, redis_server) as running:
        yield running


def test_no_full_number_in_any_log_line(served: tuple[str, subprocess.Popen[bytes]]) -> None:
    """Sent, refused and malformed requests log one JSON line each, numbers masked, no secrets."""
    url, proc = served
    statuses = [_post(url + "/sms", legacy_payload(n), auth_headers()) for n in NUMBERS]
    statuses.append(
        _post(url + "/sms", legacy_payload(NUMBERS[0]), {"Content-Type": "application/json"})
    )
    statuses.append(_post(url + "/sms", {"recipient": NUMBERS[1]}, auth_headers()))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    log = err.decode()
    assert statuses[-2:] == [401, 400]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request" and line["path"] == "/sms"]
    assert len(requests) == 5
    assert all(r.get("request_id") for r in requests)
    for number in NUMBERS:
        digits = number.lstrip("+")
        assert digits not in log, f"unmasked number in logs: {number}"
    assert SECRET not in log
    assert "123456" not in log, "the one-time code leaked into the logs"
    assert proc.returncode == 0


def test_serve_refuses_to_start_without_secret(tmp_path: Path) -> None:
    """Without auth0.gateway_secret the gateway will not start, and says which key is missing."""
    config = tmp_path / "s.yaml"
    config.write_text("server: {port: 0}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGUARD_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"auth0.gateway_secret" in result.stderr


def test_config_check_reports_every_problem_with_location(tmp_path: Path) -> None:
    """`smsguard config check` prints file:line:col for each bad key and exits non-zero."""
    config = tmp_path / "bad.yaml"
    config.write_text(
        "server:\n  port: 99999\n  colour: blue\nproviders:\n  - {name: x, type: fax}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config", "check", str(config)],
        capture_output=True,
        timeout=30,
        check=False,
        text=True,
    )
    assert result.returncode == 2
    assert f"{config}:2:3: server.port" in result.stderr
    assert f"{config}:3:3: server.colour: unknown key" in result.stderr
    assert f"{config}:5:5: providers.0" in result.stderr


@dataclass
class SlowSetup:
    """A gateway settings file whose only provider answers after 1.5 s, and a flag raised when
    a message reaches that provider (so a test can act while the request is in flight)."""

    config: Path
    port: int
    provider_hit: asyncio.Event


@pytest.fixture
async def slow(tmp_path: Path, redis_url: str, aiohttp_server: Any) -> SlowSetup:
    """A gateway config with one slow provider, on the session Redis emptied first (counters left
    by earlier tests must not refuse this one's message)."""
    provider_hit = asyncio.Event()

    async def slow_provider(request: web.Request) -> web.Response:
        provider_hit.set()
        await asyncio.sleep(1.5)
        return web.json_response({"id": "m-1"}, status=202)

    provider_app = web.Application()
    provider_app.router.add_post("/send", slow_provider)
    provider = await aiohttp_server(provider_app)
    port = free_port()
    config = tmp_path / "smsguard.yaml"
    config.write_text(
        f"server: {{host: 127.0.0.1, port: {port}, shutdown_timeout_s: 10}}\n"
        f"redis: {{url: '{redis_url}'}}\n"
        f"auth0: {{gateway_secret: {SECRET}}}\n"
        "rules: {watch: false}\n"
        "providers:\n"
        f"  - {{name: slow, type: http, base_url: '{provider.make_url('')}', path: /send}}\n"
    )
    return SlowSetup(config, port, provider_hit)


async def test_sigterm_drains_in_flight_requests(slow: SlowSetup) -> None:
    """On SIGTERM a request already waiting on a slow provider still completes with 200."""
    config, port, provider_hit = slow.config, slow.port, slow.provider_hit
    proc = subprocess.Popen(  # noqa: ASYNC220 (Popen returns at once; waits run in a thread)
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, url, proc)
        async with aiohttp.ClientSession() as session:
            pending = asyncio.create_task(
                session.post(url + "/sms", json=legacy_payload(), headers=auth_headers())
            )
            await asyncio.wait_for(provider_hit.wait(), 10)
            proc.send_signal(signal.SIGTERM)
            response = await asyncio.wait_for(pending, 15)
            assert response.status == 200
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_config_check_catches_cross_section_and_rule_errors(tmp_path: Path) -> None:
    """`config check` also builds the app and loads the rules: a PIN step without a tenant and a
    broken rule file are reported before anything starts."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-bad.yaml").write_text("rules:\n  - id: x\n    action: explode\n")
    config = tmp_path / "s.yaml"
    config.write_text(
        f"rules: {{path: {rules}}}\n"
        "pin: {enabled: true, redirect_secret: 0123456789abcdef0123456789abcdef}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config", "check", str(config)],
        capture_output=True,
        timeout=30,
        check=False,
        text=True,
    )
    assert result.returncode == 2
    assert "pin.tenant_domain: required" in result.stderr
    assert f"{rules / '10-bad.yaml'}:3:" in result.stderr


async def test_workers_drain_on_group_sigterm_and_restart_after_a_crash(slow: SlowSetup) -> None:
    """With --workers 2: a crashed worker is replaced, and SIGTERM to the whole process group
    (Ctrl-C, systemd) still lets in-flight requests finish."""
    config, port, provider_hit = slow.config, slow.port, slow.provider_hit
    proc = subprocess.Popen(  # noqa: ASYNC220 (Popen returns at once; waits run in a thread)
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, url, proc)
        workers = await _wait_for_workers(proc.pid, 2)
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = await asyncio.to_thread(_children, proc.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the crashed worker was not replaced")
        async with aiohttp.ClientSession() as session:
            pending = asyncio.create_task(
                session.post(url + "/sms", json=legacy_payload(), headers=auth_headers())
            )
            await asyncio.wait_for(provider_hit.wait(), 10)
            os.killpg(proc.pid, signal.SIGTERM)
            response = await asyncio.wait_for(pending, 15)
            assert response.status == 200
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


async def _wait_for_workers(pid: int, count: int, within_s: float = 20) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        workers = await asyncio.to_thread(_children, pid)
        if len(workers) == count:
            return workers
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} workers, have {workers}")


def _children(pid: int) -> list[int]:
    """Live worker processes of `pid` (Linux /proc): children leading their own session, which
    leaves out multiprocessing's resource tracker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and fields[3] == entry.name:
            found.append(int(entry.name))
    return found


async def test_workers_exit_when_the_supervisor_is_killed(slow: SlowSetup) -> None:
    """SIGKILL to the supervisor (OOM killer, kill -9) takes its workers with it: none keeps the
    port or spins on as an orphan."""
    proc = subprocess.Popen(  # noqa: ASYNC220 (Popen returns at once; waits run in a thread)
        [sys.executable, "-m", "gateway", "serve", "--config", str(slow.config), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workers: list[int] = []
    try:
        await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{slow.port}", proc)
        workers = await _wait_for_workers(proc.pid, 2)
        proc.kill()
        proc.wait(10)
        for _ in range(150):  # bounded: 15 s at most
            if not any(_alive(pid) for pid in workers):
                break
            await asyncio.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
