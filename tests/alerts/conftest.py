"""Real local HTTP servers playing Slack, PagerDuty and a webhook receiver, and alerters."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from redis.asyncio import Redis

from gateway.alerts.dispatcher import Alerter
from gateway.alerts.incidents import RedisIncidents
from gateway.alerts.notifiers import build_notifier
from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.settings import AlertsSettings

WEBHOOK_SECRET = "s" * 40
PD_KEY = "R0UTINGKEY0000000000000000000000"


@dataclass
class Receiver:
    """One receiver: records every request body; answers `status`, or hangs while `hang` is set."""

    status: int = 200
    hang: bool = False
    down_until: float = 0.0  # answers 503 while the clock is before this
    clock: FakeClock | None = None
    bodies: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.hang:
            await self.released.wait()
        if self.clock is not None and self.clock.time() < self.down_until:
            return web.Response(status=503)
        self.bodies.append(json.loads(raw))
        self.headers.append(dict(request.headers) | {"_raw": raw.decode()})
        return web.Response(status=self.status, text="ok")


@dataclass
class Receivers:
    slack: Receiver
    pagerduty: Receiver
    webhook: Receiver

    def settings(self, **extra: object) -> AlertsSettings:
        return AlertsSettings.model_validate(self.config(**extra))

    def config(self, **extra: object) -> dict[str, object]:
        """The `alerts:` settings section naming the three receivers."""
        return {
            "notifiers": [
                {"type": "slack", "name": "secops", "webhook_url": self.slack.url},
                {
                    "type": "pagerduty",
                    "name": "oncall",
                    "routing_key": PD_KEY,
                    "url": self.pagerduty.url,
                    "min_severity": "critical",
                },
                {
                    "type": "webhook",
                    "name": "siem",
                    "url": self.webhook.url,
                    "secret": WEBHOOK_SECRET,
                    "min_severity": "info",
                },
            ],
            **extra,
        }


def verify_signature(headers: dict[str, str]) -> bool:
    """What a webhook receiver does: recompute the HMAC over '<t>.<body>' and compare."""
    parts = dict(p.split("=", 1) for p in headers["X-Smsguard-Signature"].split(","))
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), f"{parts['t']}.{headers['_raw']}".encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def receivers(aiohttp_server: AiohttpServer, clock: FakeClock) -> AsyncIterator[Receivers]:
    made = Receivers(Receiver(clock=clock), Receiver(clock=clock), Receiver(clock=clock))
    for path, receiver in (
        ("/services/T0/B0/X", made.slack),
        ("/v2/enqueue", made.pagerduty),
        ("/hooks/sms", made.webhook),
    ):
        app = web.Application()
        app.router.add_post(path, receiver.handle)
        server = await aiohttp_server(app)
        receiver.url = str(server.make_url(path))
    yield made
    for receiver in (made.slack, made.pagerduty, made.webhook):
        receiver.released.set()


MakeAlerter = Callable[..., Awaitable[Alerter]]


@pytest.fixture
async def make_alerter(
    receivers: Receivers, redis_url: str, clock: FakeClock
) -> AsyncIterator[MakeAlerter]:
    """Start an alerter (a replica) on the shared Redis; `sleep` advances the fake clock."""
    started: list[tuple[asyncio.Task[None], aiohttp.ClientSession, Redis]] = []

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)

    async def make(settings: AlertsSettings | None = None, redis: str | None = None) -> Alerter:
        settings = settings or receivers.settings()
        session = aiohttp.ClientSession()
        client: Redis = Redis.from_url(redis or redis_url, socket_connect_timeout=0.5)
        alerter = Alerter(
            [build_notifier(n, clock) for n in settings.notifiers],
            RedisIncidents(client, keep_s=86_400),
            settings,
            session,
            clock,
            Metrics(),
            "https://sms.example.test",
            sleep=fake_sleep,
        )
        started.append((asyncio.create_task(alerter.run()), session, client))
        return alerter

    yield make
    for task, session, client in started:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()
        await client.aclose()


# The message-path gateway (Twilio then Vonage, real fakes of both, real Redis), for the tests of
# what raises alerts end to end.
from tests.pipeline.conftest import make_gateway, twilio, vonage  # noqa: E402, F401
