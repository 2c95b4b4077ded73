"""Real HTTP servers that play the SMS providers, and the providers' own OpenAPI specs as oracles.

A `FakeApi` answers from a script of `Reply`s (the last one repeats), records every request it
receives, and checks each against the provider's published OpenAPI description when the shared
specs are present. The check runs after the test (`spec_errors()`, asserted empty by the
`fake_api` fixture at teardown), never inside a request: validating against Twilio's large spec
blocks the event loop, and must not eat a test's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from aiohttp import web
from multidict import CIMultiDict, MultiDict
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters

from tests.conftest import SHARED

SPECS = SHARED / "providers"
TWILIO_SPEC = "twilio_api_v2010.json"
VONAGE_SPEC = "vonage_sms.yml"
# The `servers` URL of each spec: the fake's requests are checked as if sent there.
SPEC_HOSTS = {TWILIO_SPEC: "https://api.twilio.com", VONAGE_SPEC: "https://rest.nexmo.com"}

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-for-tests"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
# The endpoints each fake serves (Twilio's carries the account SID).
TWILIO_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
VONAGE_PATH = "/sms/json"


@functools.cache
def load_spec(name: str, specs: Path = SPECS) -> OpenAPI | None:
    """The parsed spec, or None when the shared folder is absent (loaded once per session)."""
    path = specs / name
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    return OpenAPI.from_dict(data)


def raw_spec(name: str, specs: Path = SPECS) -> Any:
    text = (specs / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


@dataclass
class Received:
    """One request as the fake provider saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    content_type: str

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class OpenApiRequest:
    """A received request presented to openapi-core as if it had been sent to the spec's server."""

    def __init__(self, host_url: str, received: Received) -> None:
        self.host_url = host_url
        self.path = received.path
        self.method = received.method.lower()
        self.body = received.body
        self.content_type = received.content_type
        self.parameters = RequestParameters(
            query=MultiDict(received.query), header=received.headers, cookie=MultiDict()
        )


def spec_problems(spec_name: str, received: Received, specs: Path = SPECS) -> list[str]:
    """Why `received` is not a valid request for the provider's published API ([] when it is)."""
    spec = load_spec(spec_name, specs)
    if spec is None:
        return []
    try:
        spec.validate_request(OpenApiRequest(SPEC_HOSTS[spec_name], received))
    except Exception as exc:  # openapi-core raises a tree of validation errors
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        return [f"{received.method} {received.path}: {exc}{cause}"]
    return []


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the test ends)
    drop: bool = False  # read the request, then close the connection without answering
    delay: float = 0.0  # seconds to wait before answering (a slow but working provider)


class FakeApi:
    """An aiohttp app playing one provider endpoint."""

    def __init__(self, path: str, replies: list[Reply], spec: str | None = None) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        self.answered = 0
        self.accepted = 0  # requests answered with a 2xx: messages this provider would send
        self._spec = spec
        self._release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", path, self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(
            request.method,
            request.path,
            dict(request.query),
            CIMultiDict(request.headers),
            await request.read(),
            request.content_type,
        )
        self.received.append(received)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if reply.drop and request.transport is not None:
            request.transport.abort()
            return web.Response(status=504)
        if reply.hang:
            # Wait for the test to end; aiohttp does not cancel handlers when the client leaves.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 30)
            return web.Response(status=504)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        self.answered += 1
        if 200 <= reply.status < 300:
            self.accepted += 1
        if reply.json is None:
            return web.Response(status=reply.status, headers=reply.headers)
        return web.json_response(reply.json, status=reply.status, headers=reply.headers)

    def release(self) -> None:
        self._release.set()

    def spec_errors(self) -> list[str]:
        """Why the requests received are not valid for the provider's API ([] when all are)."""
        if not self._spec:
            return []
        return [p for received in self.received for p in spec_problems(self._spec, received)]


# Canned answers, as the providers document them.
TWILIO_CREATED = Reply(201, {"sid": "SM" + "ab" * 16, "status": "queued"})
TWILIO_SERVER_ERROR = Reply(
    500,
    {
        "code": 20500,
        "message": "Internal Server Error",
        "more_info": "https://www.twilio.com/docs/errors/20500",
        "status": 500,
    },
)
VONAGE_SENT = Reply(
    200,
    {
        "message-count": "1",
        "messages": [{"to": "447400123456", "message-id": "0A0000000123ABCD1", "status": "0"}],
    },
)
VONAGE_SERVER_ERROR = Reply(500)
