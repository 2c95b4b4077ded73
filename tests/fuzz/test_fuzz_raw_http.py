"""Malformed HTTP on a raw socket to a real `smsguard serve` process: every answer is a 4xx (or
none, for a client that hangs up), and its log holds no traceback, no error line, no token, code
or full number; aiohttp's parser errors come out at info level, rate-limited.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.redisproc import RedisProcess
from tests.auth0 import gateway_token
from tests.fuzz.test_fuzz_sms import assert_clean_log
from tests.serving import serve_process

REQUESTS = 400
SEED = 20261203
NUMBER = "+447400123456"


def _body(code: str) -> bytes:
    payload = {
        "recipient": NUMBER,
        "body": f"Your verification code is: {code}",
        "req": {"ip": "203.0.113.7", "user-agent": "Mozilla/5.0"},
    }
    return json.dumps(payload).encode()


def _malformed(rng: random.Random, token: str, code: str) -> tuple[bytes, bool]:
    """One malformed request (its bytes) and whether the client hangs up instead of reading."""
    t, body = token.encode(), _body(code)
    start = b"POST /sms HTTP/1.1\r\nHost: gateway\r\n"
    auth = b"Authorization: Bearer " + t + b"\r\n"
    json_ct = b"Content-Type: application/json\r\n"
    length = f"Content-Length: {len(body)}\r\n".encode()
    cases: list[tuple[bytes, bool]] = [
        (start + b"Authorization: Bearer " + t + b"\x01\r\nContent-Length: 2\r\n\r\n{}", False),
        (start + auth + json_ct + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body, False),
        (start + b"Authorization : Bearer " + t + b"\r\n" + length + b"\r\n" + body, False),
        (start + auth + length + b"Transfer-Encoding: chunked\r\n\r\n" + body, False),
        (start + auth + b"Content-Length: abc\r\n\r\n" + body, False),
        (start + auth + length + b"Content-Length: 3\r\n\r\n" + body, False),
        (b"P@ST /sms HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n", False),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + t, False),
        (start + b"X-Big: " + b"a" * 9000 + b"\r\n" + auth + b"\r\n", False),
        (
            start + auth + json_ct + b"Content-Length: 900\r\n\r\n" + body[: rng.randrange(1, 60)],
            True,
        ),
        (start + auth + json_ct + b"Content-Encoding: gzip\r\n" + length + b"\r\n" + body, False),
        (
            start + auth + json_ct + b"Transfer-Encoding: chunked\r\n\r\n5\r\n" + body + b"\r\n",
            False,
        ),
        (b"POST /s\x00ms HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n", False),
        (start + auth + b" folded " + t + b"\r\n" + length + b"\r\n" + body, False),
        (b"POST /sms HTTP/9.9\r\nHost: x\r\n" + auth + length + b"\r\n" + body, False),
        (
            start + b"Authorization: Bearer " + t[: rng.randrange(5, len(t))] + b"\xff\r\n\r\n",
            False,
        ),
    ]
    return cases[rng.randrange(len(cases))]


async def _send(port: int, data: bytes, hang_up: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if hang_up:
            return b""
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()


@pytest.fixture
def serve(
    tmp_path: Path, redis_server: RedisProcess
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with serve_process(tmp_path, redis_server, log_level="info") as (url, proc):
        yield int(url.rsplit(":", 1)[1]), proc


async def test_malformed_http_gets_4xx_and_a_quiet_clean_log(
    serve: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """400 seeded malformed requests: no 5xx, and the process's log stays clean and quiet."""
    port, proc = serve
    rng = random.Random(SEED)
    token = gateway_token(ttl=600)
    codes = {str(rng.randrange(100_000, 1_000_000)) for _ in range(REQUESTS)}
    gate = asyncio.Semaphore(20)

    async def one(code: str) -> bytes:
        data, hang_up = _malformed(rng, token, code)
        async with gate:
            return await _send(port, data, hang_up)

    answers = await asyncio.gather(*(one(code) for code in sorted(codes)))
    statuses = [int(line.split()[1]) for line in answers if line.startswith(b"HTTP/")]
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    log = err.decode()
    print(f"raw http: {len(answers)} requests, statuses {sorted(set(statuses))}")
    assert statuses, "no answer at all"
    assert all(400 <= status < 500 for status in statuses), sorted(set(statuses))
    assert_clean_log(log, codes, {token})
    refused = [line for line in log.splitlines() if "malformed HTTP request refused" in line]
    assert refused, "the parser errors were not logged at all"
    assert all(json.loads(line)["level"] == "info" for line in refused)
    # Rate-limited: a burst of 20, then about one a second (the whole run takes a few seconds).
    assert len(refused) < 60
    assert proc.returncode == 0
