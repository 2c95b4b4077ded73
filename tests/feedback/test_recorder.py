"""Feedback writes off the request path: /sms opens a code; the queue is bounded and counted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.feedback.recorder import FeedbackRecorder
from gateway.feedback.store import FeedbackStore
from gateway.metrics import Metrics
from tests.events.helpers import signals, sms
from tests.feedback.conftest import GATEWAY_SECRET
from tests.feedback.helpers import RECIPIENT, T0, make_store


def sms_token() -> str:
    """Auth0's token, issued at the gateway's (fake) time: the gateway checks it on its clock."""
    now = int(T0 + 60)
    claims = {"sub": "urn:Auth0", "aud": "urn:MySmsGateway", "iat": now, "exp": now + 60}
    return jwt.encode(claims, GATEWAY_SECRET, algorithm="HS256")


async def until_unused(store: FeedbackStore, at: float) -> int:
    """The recipient's unused codes, once the background writer has had its turns."""
    for _ in range(200):
        unused = (await store.read(RECIPIENT, {}, at)).unused["1h"]
        if unused:
            return unused
        await asyncio.sleep(0.02)
    return 0


async def test_a_relayed_message_opens_a_code_for_its_recipient(
    gateway: TestServer, store: FeedbackStore
) -> None:
    """POST /sms allowed and sent: the recipient has one unused code, counted on its country."""
    body = {"recipient": RECIPIENT, "body": "Your verification code is: 123456", "sender": "x"}
    body["req"] = {"ip": "203.0.113.7", "user-agent": "Mozilla/5.0 Chrome/126"}
    headers = {"Authorization": f"Bearer {sms_token()}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(gateway.make_url("/sms"), json=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
    assert await until_unused(store, T0 + 61) == 1
    view = await store.read(RECIPIENT, {"cc": "GB", "ip": "203.0.113.7"}, T0 + 61)
    assert view.counts[("cc", "1h")].sent == 1
    assert view.counts[("ip", "24h")].sent == 1


async def test_a_full_queue_drops_and_counts(redis: Redis) -> None:
    """Past its capacity the queue drops new writes and counts them in the metric."""
    metrics = Metrics()
    recorder = FeedbackRecorder(make_store(redis), clock=FakeClock(T0), metrics=metrics, capacity=3)
    for i in range(5):
        recorder.sent(sms(i), signals())
    assert recorder.pending == 3
    assert recorder.stats.dropped == 2
    assert metrics.registry.get_sample_value("smsguard_feedback_dropped_total") == 2


async def test_writes_wait_while_redis_is_down_and_land_after(redis: Redis) -> None:
    """A failed flush keeps the batch; the next flush with Redis back writes it."""
    down: Redis = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    recorder = FeedbackRecorder(make_store(down), clock=FakeClock(T0), metrics=Metrics())
    recorder.sent(sms(0, at=T0), signals())
    assert await recorder.flush() is False
    assert recorder.pending == 1
    await down.aclose()
    recorder.store = make_store(redis)
    assert await recorder.flush() is True
    assert (await recorder.store.read(RECIPIENT, {}, T0)).unused["1h"] == 1


async def test_the_sms_answer_does_not_wait_for_the_feedback_write(
    aiohttp_server: Any, redis_url: str, store: FeedbackStore, tmp_path: Path
) -> None:
    """With the writer idle, /sms answers 200 and nothing is written yet; the writer's next flush
    writes the code (the write is off the request path)."""
    from gateway.app import create_app
    from gateway.appkeys import FEEDBACK
    from gateway.settings import build_settings

    (tmp_path / "allow.yaml").write_text("rules: []\ndefault: allow\n")
    settings = build_settings(
        {
            "redis": {"url": redis_url},
            "auth0": {"gateway_secret": GATEWAY_SECRET},
            "rules": {"path": str(tmp_path), "watch": False, "counter_hash_key": "test-secret"},
            "feedback": {"flush_interval_ms": 60_000, "batch_size": 10_000},
        },
        environ={},
    )
    server = await aiohttp_server(create_app(settings, clock=FakeClock(T0 + 60)))
    body = {"recipient": RECIPIENT, "body": "Your verification code is: 123456"}
    headers = {"Authorization": f"Bearer {sms_token()}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/sms"), json=body, headers=headers) as resp,
    ):
        assert resp.status == 200
    assert (await store.read(RECIPIENT, {}, T0 + 61)).unused["1h"] == 0
    recorder = server.app[FEEDBACK]
    assert recorder.pending == 1
    assert await recorder.flush() is True
    assert (await store.read(RECIPIENT, {}, T0 + 61)).unused["1h"] == 1
