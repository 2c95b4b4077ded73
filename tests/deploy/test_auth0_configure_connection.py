"""deploy/auth0/configure-connection.py against a real server playing Auth0's Management API."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "auth0" / "configure-connection.py"
DOMAIN = "acme.eu.auth0.com"
CLIENT_ID = "m2m-client"
CLIENT_SECRET = "client-secret-value-0123"
MGMT_TOKEN = "mgmt-token-value-4567"
GATEWAY_SECRET = "gateway-shared-secret-89ab"
TWILIO_TOKEN = "twilio-auth-token-cdef"
GATEWAY_URL = "https://sms.acme.example/sms"

LEGACY_OPTIONS: dict[str, Any] = {
    "strategy": "sms",
    "provider": "twilio",
    "twilio_sid": "AC123",
    "twilio_token": TWILIO_TOKEN,
    "from": "+15555555555",
    "template": "Your verification code is: @@password@@",
    "syntax": "md_with_macros",
    "totp": {"time_step": 300, "length": 6},
    "brute_force_protection": True,
    "disable_signup": False,
    "name": "sms",
}


@dataclass
class FakeAuth0:
    """Auth0's token endpoint and the connections endpoints, recording every request."""

    connections: list[dict[str, Any]]
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/api/v2/connections", self.list_connections)
        app.router.add_get("/api/v2/connections/{id}", self.get_connection)
        app.router.add_patch("/api/v2/connections/{id}", self.patch_connection)
        return app

    async def _record(self, request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path_qs, body))
        return body

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {MGMT_TOKEN}"

    @staticmethod
    def _unauthorised() -> web.Response:
        return web.json_response(
            {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"}, status=401
        )

    async def token(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if (
            body.get("grant_type") != "client_credentials"
            or body.get("client_id") != CLIENT_ID
            or body.get("client_secret") != CLIENT_SECRET
            or body.get("audience") != f"https://{DOMAIN}/api/v2/"
        ):
            return web.json_response(
                {"error": "access_denied", "error_description": "Unauthorized"}, status=401
            )
        return web.json_response({"access_token": MGMT_TOKEN, "token_type": "Bearer"})

    async def list_connections(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorised(request):
            return self._unauthorised()
        strategy = request.query.get("strategy")
        found = [c for c in self.connections if strategy is None or c["strategy"] == strategy]
        return web.json_response(found)

    def _find(self, conn_id: str) -> dict[str, Any]:
        for conn in self.connections:
            if conn["id"] == conn_id:
                return conn
        raise web.HTTPNotFound(
            text=json.dumps({"statusCode": 404, "error": "Not Found", "message": "not found"}),
            content_type="application/json",
        )

    async def get_connection(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorised(request):
            return self._unauthorised()
        return web.json_response(self._find(request.match_info["id"]))

    async def patch_connection(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if not self._authorised(request):
            return self._unauthorised()
        conn = self._find(request.match_info["id"])
        conn["options"] = body["options"]  # a PATCH replaces options whole
        return web.json_response(conn)

    def patches(self) -> list[Any]:
        return [body for method, _, body in self.requests if method == "PATCH"]


def sms_connection(conn_id: str = "con_sms1", name: str = "sms", **extra: Any) -> dict[str, Any]:
    options = copy.deepcopy(LEGACY_OPTIONS) | extra
    return {"id": conn_id, "name": name, "strategy": "sms", "options": options}


@dataclass
class Result:
    code: int
    out: str
    err: str


async def run_script(server: TestServer, *args: str, env: dict[str, str] | None = None) -> Result:
    base = str(server.make_url("")).rstrip("/")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "SMSGUARD_"))}
    environ |= {
        "AUTH0_CLIENT_SECRET": CLIENT_SECRET,
        "SMSGUARD_GATEWAY_SECRET": GATEWAY_SECRET,
    } | (env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--domain", DOMAIN, "--base-url", base,
        "--client-id", CLIENT_ID, "--gateway-url", GATEWAY_URL, "--timeout", "10", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environ,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def start(aiohttp_server: Any, fake: FakeAuth0) -> TestServer:
    server: TestServer = await aiohttp_server(fake.app())
    return server


def expected_options(**auth: Any) -> dict[str, Any]:
    options = copy.deepcopy(LEGACY_OPTIONS)
    options["provider"] = "sms_gateway"
    options["gateway_url"] = GATEWAY_URL
    options["gateway_authentication"] = {
        "method": "bearer",
        "subject": "urn:Auth0",
        "audience": "urn:MySmsGateway",
        "secret": GATEWAY_SECRET,
        "secret_base64_encoded": False,
    } | auth
    options["forward_req_info"] = True
    return options


async def test_dry_run_sends_no_patch(aiohttp_server: Any) -> None:
    """Without --apply the script reads the connection, prints the diff and changes nothing."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(await start(aiohttp_server, fake))
    assert result.code == 0, result.err
    assert fake.patches() == []
    assert '~ options.provider: "twilio" -> "sms_gateway"' in result.out
    assert f'+ options.gateway_url: "{GATEWAY_URL}"' in result.out
    assert "dry run" in result.out


async def test_apply_patches_the_whole_merged_options(aiohttp_server: Any) -> None:
    """--apply PATCHes every existing option kept plus smsguard's keys, as one options object."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(await start(aiohttp_server, fake), "--apply")
    assert result.code == 0, result.err
    assert fake.patches() == [{"options": expected_options()}]
    assert ("PATCH", "/api/v2/connections/con_sms1", {"options": expected_options()}) in (
        fake.requests
    )
    assert "applied" in result.out


async def test_token_is_obtained_with_client_credentials(aiohttp_server: Any) -> None:
    """The Management API token comes from a client-credentials grant for https://DOMAIN/api/v2/."""
    fake = FakeAuth0([sms_connection()])
    await run_script(await start(aiohttp_server, fake))
    method, path, body = fake.requests[0]
    assert (method, path) == ("POST", "/oauth/token")
    assert body == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": f"https://{DOMAIN}/api/v2/",
    }


async def test_wrong_client_secret_is_a_clear_error(aiohttp_server: Any) -> None:
    """A refused client-credentials grant exits 1 with the status and Auth0's error body."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(
        await start(aiohttp_server, fake), "--apply", env={"AUTH0_CLIENT_SECRET": "wrong"}
    )
    assert result.code == 1
    assert "POST" in result.err
    assert "/oauth/token -> HTTP 401" in result.err
    assert '"error": "access_denied"' in result.err
    assert fake.patches() == []


async def test_wrong_management_token_is_a_clear_error(aiohttp_server: Any) -> None:
    """An invalid --token exits 1 naming the call, HTTP 401 and Auth0's message."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(await start(aiohttp_server, fake), "--token", "not-valid", "--apply")
    assert result.code == 1
    assert "GET" in result.err
    assert "-> HTTP 401" in result.err
    assert "Invalid token" in result.err
    assert [m for m, _, _ in fake.requests] == ["GET"]


async def test_token_from_environment_skips_the_grant(aiohttp_server: Any) -> None:
    """A token in AUTH0_MANAGEMENT_TOKEN is used as is: no call to /oauth/token."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(
        await start(aiohttp_server, fake), env={"AUTH0_MANAGEMENT_TOKEN": MGMT_TOKEN}
    )
    assert result.code == 0, result.err
    assert all(path != "/oauth/token" for _, path, _ in fake.requests)


async def test_secrets_are_never_printed(aiohttp_server: Any) -> None:
    """Neither the gateway secret, the client secret, the token nor existing secrets are shown."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(await start(aiohttp_server, fake), "--apply")
    assert result.code == 0, result.err
    printed = result.out + result.err
    for secret in (GATEWAY_SECRET, CLIENT_SECRET, MGMT_TOKEN, TWILIO_TOKEN):
        assert secret not in printed
    assert "+ options.gateway_authentication:" in result.out
    assert "<redacted>" in result.out


async def test_connection_id_reads_that_connection(aiohttp_server: Any) -> None:
    """--connection-id reads and patches that connection without listing the tenant's."""
    fake = FakeAuth0([sms_connection("con_a", "sms-a"), sms_connection("con_b", "sms-b")])
    result = await run_script(
        await start(aiohttp_server, fake), "--connection-id", "con_b", "--apply"
    )
    assert result.code == 0, result.err
    paths = [path for _, path, _ in fake.requests]
    assert not any(p.startswith("/api/v2/connections?") for p in paths)
    assert ("PATCH", "/api/v2/connections/con_b") in [(m, p) for m, p, _ in fake.requests]
    assert fake.connections[0]["options"]["provider"] == "twilio"


async def test_several_sms_connections_need_a_choice(aiohttp_server: Any) -> None:
    """Two SMS connections and no --connection-id: the script lists them and exits 2."""
    fake = FakeAuth0([sms_connection("con_a", "sms-a"), sms_connection("con_b", "sms-b")])
    result = await run_script(await start(aiohttp_server, fake), "--apply")
    assert result.code == 2
    assert "con_a" in result.err
    assert "con_b" in result.err
    assert fake.patches() == []


async def test_already_configured_sends_nothing(aiohttp_server: Any) -> None:
    """A connection already pointing at smsguard with the same settings is not PATCHed again."""
    conn = sms_connection()
    conn["options"] = expected_options()
    fake = FakeAuth0([conn])
    result = await run_script(await start(aiohttp_server, fake), "--apply")
    assert result.code == 0, result.err
    assert fake.patches() == []
    assert "nothing to change" in result.out


async def test_subject_audience_and_base64_flag_are_set(aiohttp_server: Any) -> None:
    """--subject, --audience and --secret-base64-encoded land in gateway_authentication."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(
        await start(aiohttp_server, fake), "--apply", "--subject", "urn:acme",
        "--audience", "urn:acme-sms", "--secret-base64-encoded",
    )  # fmt: skip
    assert result.code == 0, result.err
    sent = fake.patches()[0]["options"]["gateway_authentication"]
    assert sent == {
        "method": "bearer",
        "subject": "urn:acme",
        "audience": "urn:acme-sms",
        "secret": GATEWAY_SECRET,
        "secret_base64_encoded": True,
    }


async def test_gateway_secret_from_file(aiohttp_server: Any, tmp_path: Path) -> None:
    """--gateway-secret-file reads the shared secret from a file, trailing newline stripped."""
    secret_file = tmp_path / "gw"
    secret_file.write_text("from-a-file\n")
    fake = FakeAuth0([sms_connection()])
    result = await run_script(
        await start(aiohttp_server, fake), "--apply", "--gateway-secret-file", str(secret_file)
    )
    assert result.code == 0, result.err
    assert fake.patches()[0]["options"]["gateway_authentication"]["secret"] == "from-a-file"


async def test_missing_gateway_secret_is_a_usage_error(aiohttp_server: Any) -> None:
    """Without the shared secret the script exits 2 before calling Auth0."""
    fake = FakeAuth0([sms_connection()])
    result = await run_script(
        await start(aiohttp_server, fake), "--apply", env={"SMSGUARD_GATEWAY_SECRET": ""}
    )
    assert result.code == 2
    assert "SMSGUARD_GATEWAY_SECRET" in result.err
    assert fake.requests == []


def test_help_describes_the_dry_run() -> None:
    """--help exits 0 and says a dry run is the default."""
    import subprocess

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "--apply" in done.stdout
    assert "Dry run by default" in done.stdout


@pytest.mark.parametrize("url", ["ftp://sms.example/sms", "not a url"])
def test_bad_gateway_url_is_a_usage_error(url: str) -> None:
    """A --gateway-url that is not http(s) exits 2 without any network call."""
    import subprocess

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--domain", DOMAIN, "--gateway-url", url],
        capture_output=True, text=True, check=False, env={"SMSGUARD_GATEWAY_SECRET": "x"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "not an http(s) URL" in done.stderr


async def test_diff_shows_flags_and_hides_only_secret_values(aiohttp_server: Any) -> None:
    """A changed secret_base64_encoded flag is shown as is; an unchanged secret is not listed."""
    conn = sms_connection()
    conn["options"] = expected_options()
    fake = FakeAuth0([conn])
    result = await run_script(await start(aiohttp_server, fake), "--secret-base64-encoded")
    assert result.code == 0, result.err
    changes = [line.strip() for line in result.out.splitlines() if line.startswith("  ")]
    assert changes == ["~ options.gateway_authentication.secret_base64_encoded: false -> true"]


async def test_changed_secret_is_reported_redacted(aiohttp_server: Any) -> None:
    """A new shared secret shows as changed, with neither value printed."""
    conn = sms_connection()
    conn["options"] = expected_options(secret="the-old-secret-value")
    fake = FakeAuth0([conn])
    result = await run_script(await start(aiohttp_server, fake))
    assert result.code == 0, result.err
    assert "~ options.gateway_authentication.secret: <redacted> (changed)" in result.out
    assert "the-old-secret-value" not in result.out
    assert GATEWAY_SECRET not in result.out
