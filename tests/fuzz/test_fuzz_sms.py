"""Fuzzing POST /sms, seeded and bounded: 20,000 requests over both Auth0 payload shapes, mutated
bodies, headers and encodings, against the real app (real Redis, a real HTTP server playing
Twilio) on loopback. No answer is a 5xx, no line of the captured log holds a traceback, a token,
a one-time code or a full phone number.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.redisproc import RedisProcess
from gateway.settings import build_settings
from tests.auth0 import SECRET
from tests.fuzz.strategies import NUMBERS, Spec, specs

BATCHES = int(__import__("os").environ.get("FUZZ_BATCHES", "200"))
PER_BATCH = 100  # sent concurrently: 200 x 100 = 20,000 requests
SEED = 20261203


class Tally:
    """What the fuzz run saw: statuses, the secrets it sent, the failures."""

    def __init__(self) -> None:
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.codes: set[str] = set()
        self.tokens: set[str] = set()
        self.server_errors: list[str] = []


async def _twilio(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"sid": "SM" + "ab" * 16, "status": "queued"}, status=201)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop: hypothesis drives the examples synchronously, each one a batch."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


async def _start(redis_url: str) -> tuple[TestServer, TestServer]:
    provider = web.Application()
    provider.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", _twilio)
    twilio = TestServer(provider, host="127.0.0.1")
    await twilio.start_server()
    settings = build_settings(
        {
            "redis": {"url": redis_url},
            "auth0": {"gateway_secret": SECRET},
            "rules": {"watch": False},
            "server": {"public_url": "https://sms.example.com"},
            "providers": [
                {
                    "name": "twilio-main",
                    "type": "twilio",
                    "account_sid": "AC" + "0" * 32,
                    "auth_token": "twilio-auth-token-0123456789abcdef",
                    "from": "+15005550006",
                    "base_url": str(twilio.make_url("")).rstrip("/"),
                    "max_attempts": 1,
                }
            ],
        },
        environ={},
    )
    server = TestServer(create_app(settings), host="127.0.0.1", access_log=None)
    await server.start_server()
    return server, twilio


class RawClient:
    """HTTP/1.1 over a few kept-alive loopback sockets, the bytes exactly as drawn (a repeated
    header stays repeated); far cheaper per request than a full client."""

    def __init__(self, port: int, connections: int) -> None:
        self._port = port
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        for _ in range(connections):
            self._idle.put_nowait(None)

    async def post(self, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        data = (
            f"POST /sms HTTP/1.1\r\nHost: gateway\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode("latin-1")
            + body
        )
        conn = await self._idle.get()
        try:
            for _ in range(2):  # a kept-alive socket the server has closed meanwhile: again
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", self._port)
                reader, writer = conn
                writer.write(data)
                status_line = await reader.readline()
                if status_line:
                    break
                writer.close()
                conn = None
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            answer = await reader.readexactly(length)
            if close or status_line.startswith(b"HTTP/1.0"):
                writer.close()
                conn = None
            return int(status_line.split()[1]), answer
        except BaseException:
            conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                conn[1].close()


async def _one(client: RawClient, spec: Spec, tally: Tally) -> None:
    headers, body = spec.render()
    tally.codes.add(spec.code)
    tally.tokens.add(spec.token)
    status, answer = await client.post(headers, body)
    tally.requests += 1
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if status >= 500:
        tally.server_errors.append(f"{status} {answer[:200]!r} for {spec!r}")


async def _batch(client: RawClient, drawn: list[Spec], tally: Tally) -> None:
    await asyncio.gather(*(_one(client, spec, tally) for spec in drawn))


@pytest.mark.timeout(600)
def test_fuzzed_requests_never_get_5xx_nor_leak(
    loop: asyncio.AbstractEventLoop, redis_server: RedisProcess, json_logging: io.StringIO
) -> None:
    """20,000 seeded fuzzed requests: 0 answers 5xx, 0 tracebacks, no secret in the log."""
    loop.run_until_complete(_flush(redis_server.url))
    server, twilio = loop.run_until_complete(_start(redis_server.url))
    assert server.port is not None
    client = RawClient(server.port, connections=PER_BATCH // 2)
    tally = Tally()

    @seed(SEED)
    @settings(
        max_examples=BATCHES,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(specs, min_size=PER_BATCH, max_size=PER_BATCH))
    def batch(drawn: list[Spec]) -> None:
        loop.run_until_complete(_batch(client, drawn, tally))
        assert not tally.server_errors, tally.server_errors[:3]

    try:
        batch()
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(server.close())
        loop.run_until_complete(twilio.close())
    log = json_logging.getvalue()
    print(f"fuzz: {tally.requests} requests, statuses {sorted(tally.statuses.items())}")
    assert tally.requests == BATCHES * PER_BATCH
    assert tally.statuses.get(200, 0) > tally.requests // 10, "too few got through to be fair"
    # The capture works: it holds the canonical line of (nearly) every request; a few requests
    # on a connection the server drops after a bad body may be sent again on a new one.
    lines = [json.loads(line) for line in log.splitlines()]
    assert sum(line["event"] == "request" for line in lines) >= tally.requests * 0.99
    assert_clean_log(log, tally.codes, tally.tokens)


def assert_clean_log(log: str, codes: set[str], tokens: set[str]) -> None:
    """No traceback, error line, token, one-time code or full number in a captured log."""
    # Every line is JSON, but for the CLI's own start-up warnings on stderr.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, "nothing was logged"
    assert "Traceback" not in log
    errors = [line for line in lines if line.get("level") in ("error", "critical")]
    assert not errors, errors[:3]
    for token in tokens:
        assert token.split(".")[2] not in log, "a token's signature reached the log"
    assert not re.search(r"eyJ[\w-]*\.eyJ[\w-]*\.[\w-]{20,}", log), "a whole JWT reached the log"
    for number in NUMBERS:
        assert number.lstrip("+") not in log, f"a full number reached the log: {number}"
    # A 6-digit code standing alone (not inside a hex id, a timestamp or a longer number).
    alone = set(re.findall(r"(?<![0-9A-Za-z.:-])(\d{6})(?![0-9A-Za-z.:])", log))
    leaked = alone & codes
    assert not leaked, f"one-time codes reached the log: {sorted(leaked)[:5]}"


async def _flush(url: str) -> None:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(url)
    await client.flushall()
    await client.aclose()
