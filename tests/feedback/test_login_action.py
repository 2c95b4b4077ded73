"""deploy/auth0/login-completed.js run by node against the real gateway and slow/down servers."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.feedback.store import FeedbackStore
from tests.feedback.conftest import GATEWAY_SECRET
from tests.feedback.helpers import RECIPIENT, T0, sent

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "deploy" / "auth0" / "login-completed.js"
RUNNER = ROOT / "tests" / "deploy" / "run_action.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the Action runs on it")


@dataclass
class Outcome:
    calls: list[dict[str, Any]]
    logs: list[str]
    error: str | None


def login_event(url: str, *, strategy: str = "sms", **secrets: str) -> dict[str, Any]:
    """A post-login event of a passwordless SMS login, with the Action's secrets."""
    return {
        "connection": {"id": "con_1", "name": "sms", "strategy": strategy},
        "user": {"user_id": "sms|abc", "phone_number": RECIPIENT},
        "transaction": {"id": "tx-42"},
        "secrets": {"SMSGUARD_URL": url, "SMSGUARD_SECRET": GATEWAY_SECRET, **secrets},
    }


async def run_action(event: dict[str, Any]) -> Outcome:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(RUNNER),
        str(ACTION),
        "onExecutePostLogin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # The Action signs its token at the gateway's (fake) time, which the gateway checks.
        env={**os.environ, "ACTION_NOW_MS": str(int((T0 + 60) * 1000))},
    )
    out, err = await proc.communicate(json.dumps(event).encode())
    assert proc.returncode == 0, err.decode()
    data = json.loads(out.decode().strip().splitlines()[-1])
    return Outcome(data["calls"], data["logs"], data["error"])


async def test_an_sms_login_completes_the_code_at_the_real_gateway(
    gateway: TestServer, store: FeedbackStore
) -> None:
    """The gateway verifies the Action's token and completes the number's open code."""
    await store.record_sent([sent()], T0)
    outcome = await run_action(login_event(str(gateway.make_url("")).rstrip("/")))
    assert outcome == Outcome([], [], None)
    view = await store.read(RECIPIENT, {"cc": "GB"}, T0 + 60)
    assert view.verified_at is not None
    assert view.counts[("cc", "1h")].completed == 1


async def test_a_retried_report_with_the_same_id_counts_once(
    gateway: TestServer, store: FeedbackStore
) -> None:
    """Two reports of one transaction: the second is a duplicate."""
    await store.record_sent([sent(0), sent(1, at=T0 + 1)], T0 + 1)
    url = str(gateway.make_url("")).rstrip("/")
    await run_action(login_event(url))
    await run_action(login_event(url))
    view = await store.read(RECIPIENT, {"cc": "GB"}, T0 + 60)
    assert view.counts[("cc", "1h")].completed == 1
    assert view.unused["1h"] == 1


async def test_a_wrong_secret_is_refused_and_the_login_goes_on(gateway: TestServer) -> None:
    """The gateway answers 401; the Action logs it and does not deny the login."""
    url = str(gateway.make_url("")).rstrip("/")
    outcome = await run_action(login_event(url, SMSGUARD_SECRET="not-the-secret"))
    assert outcome.calls == []
    assert outcome.error is None
    assert outcome.logs == ["smsguard: login not recorded (HTTP 401)"]


async def test_other_logins_are_not_reported(aiohttp_server: Any) -> None:
    """A database or social login sends nothing."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/auth0/login-completed", record)
    server = await aiohttp_server(app)
    outcome = await run_action(login_event(str(server.make_url("")), strategy="auth0"))
    assert outcome == Outcome([], [], None)
    assert seen == []


async def test_a_slow_gateway_is_abandoned_without_blocking_the_login(aiohttp_server: Any) -> None:
    """A gateway that never answers: the Action gives up at its timeout, before the gateway would
    have answered, and lets the login through."""
    finished: list[bool] = []

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        finished.append(True)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/auth0/login-completed", slow)
    server = await aiohttp_server(app)
    event = login_event(str(server.make_url("")), SMSGUARD_FEEDBACK_TIMEOUT_MS="200")
    outcome = await run_action(event)
    assert finished == []
    assert outcome.calls == []
    assert outcome.logs == ["smsguard: login not recorded (timeout)"]


async def test_a_down_gateway_lets_the_login_through() -> None:
    """Nothing listening: the Action logs and returns; no deny, no exception."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = await run_action(login_event(f"http://127.0.0.1:{port}"))
    assert outcome.calls == []
    assert outcome.error is None
    assert len(outcome.logs) == 1
    assert outcome.logs[0].startswith("smsguard: login not recorded")


def test_the_token_signing_is_the_phone_provider_actions() -> None:
    """Both Actions sign the gateway's JWT with the same code (each file stands alone in Auth0)."""

    def sign_token(path: Path) -> str:
        text = path.read_text()
        start = text.index("function signToken(")
        return text[start : text.index("\n}\n", start)]

    other = ACTION.with_name("custom-phone-provider.js")
    assert sign_token(ACTION) == sign_token(other)
