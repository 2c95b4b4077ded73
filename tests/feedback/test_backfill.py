"""`smsguard feedback backfill` against a real local server playing the Auth0 Management API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.feedback.backfill import CHECKPOINT_KEY, Backfill, BackfillError, ManagementApi
from gateway.feedback.ingest import Ingest
from gateway.feedback.store import FeedbackStore
from gateway.metrics import Metrics
from tests.feedback.helpers import T0, log_event

CLIENT_ID = "m2m-client"
CLIENT_SECRET = "m2m-secret"
TOKEN = "mgmt-token-1"


class FakeManagementApi:
    """Auth0's token endpoint and GET /api/v2/logs (checkpoint pagination, rate limits)."""

    def __init__(self, clock: FakeClock, events: list[dict[str, Any]]) -> None:
        self.clock = clock
        self.events = sorted(events, key=lambda e: e["log_id"])
        self.log_calls: list[dict[str, str]] = []
        self.limit_every = 0  # every n-th logs call answers 429
        self.remaining_zero_on = -1  # this logs call says x-ratelimit-remaining: 0
        self.token_requests: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/api/v2/logs", self.logs)
        return app

    async def token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_requests.append(body)
        if (body.get("grant_type"), body.get("client_id"), body.get("client_secret")) != (
            "client_credentials",
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            return web.json_response({"error": "access_denied"}, status=401)
        return web.json_response({"access_token": TOKEN, "token_type": "Bearer"})

    async def logs(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"statusCode": 401}, status=401)
        query = dict(request.query)
        self.log_calls.append(query)
        n = len(self.log_calls)
        reset = str(int(self.clock.time()) + 7)
        if self.limit_every and n % self.limit_every == 0:
            headers = {"x-ratelimit-limit": "2", "x-ratelimit-remaining": "0"}
            headers["x-ratelimit-reset"] = reset
            return web.json_response({"statusCode": 429}, status=429, headers=headers)
        headers = {"x-ratelimit-remaining": "0" if n == self.remaining_zero_on else "5"}
        headers["x-ratelimit-reset"] = reset
        if "from" not in query:
            assert query.get("sort") == "date:1"
            return web.json_response(self.events[:1], headers=headers)
        take = int(query.get("take", "50"))
        page = [e for e in self.events if e["log_id"] > query["from"]][:take]
        last = page[-1]["log_id"] if page else query["from"]
        next_url = str(request.url.with_query({"from": last, "take": str(take)}))
        headers["Link"] = f'<{next_url}>; rel="next"'
        return web.json_response(page, headers=headers)


def history(n: int) -> list[dict[str, Any]]:
    """n past events, one SMS login in two, the rest other types; dated over the last 10 days."""
    events = []
    for i in range(n):
        kind = "s" if i % 2 == 0 else ("cs" if i % 4 == 1 else "slo")
        at = T0 - 10 * 86_400 + i * 600
        events.append(log_event(kind, f"900{i:06d}", f"+4477009{i:05d}", at))
    return events


async def run_backfill(
    server: TestServer, store: FeedbackStore, redis: Redis, clock: FakeClock, **kw: Any
) -> tuple[Any, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    async with aiohttp.ClientSession() as session:
        api = ManagementApi(
            session, str(server.make_url("")), CLIENT_ID, CLIENT_SECRET, clock=clock, sleep=sleep
        )
        ingest = Ingest(store, clock=clock, metrics=Metrics(), deadline_s=10)
        progress = await Backfill(api, ingest, redis, **kw).run()
    return progress, waits


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


async def test_past_logins_become_the_baseline(
    aiohttp_server: Any, store: FeedbackStore, redis: Redis, clock: FakeClock
) -> None:
    """Every SMS login of the retained history marks its recipient and counts as verified."""
    fake = FakeManagementApi(clock, history(350))
    server = await aiohttp_server(fake.app())
    progress, _ = await run_backfill(server, store, redis, clock)
    assert progress.completions == 175
    assert progress.ignored == 175
    assert progress.checkpoint == "900000349"
    assert await redis.get(CHECKPOINT_KEY) == b"900000349"
    view = await store.read("+447700900000", {"cc": "GB"}, T0)
    assert view.verified_at == int(T0 - 10 * 86_400)
    assert view.counts[("cc", "14d")].unmatched == 175
    assert all(call.get("take") == "100" for call in fake.log_calls[1:])


async def test_a_second_run_resumes_from_the_checkpoint(
    aiohttp_server: Any, store: FeedbackStore, redis: Redis, clock: FakeClock
) -> None:
    """A later run asks only for events after the saved log_id and applies only the new ones."""
    events = history(60)
    fake = FakeManagementApi(clock, events[:40])
    server = await aiohttp_server(fake.app())
    await run_backfill(server, store, redis, clock)
    fake.events = events
    fake.log_calls.clear()
    progress, _ = await run_backfill(server, store, redis, clock)
    assert fake.log_calls[0] == {"from": "900000039", "take": "100"}
    assert progress.events == 20
    assert progress.completions == 10


async def test_429_waits_for_the_rate_limit_reset_and_retries(
    aiohttp_server: Any, store: FeedbackStore, redis: Redis, clock: FakeClock
) -> None:
    """A 429 waits until x-ratelimit-reset, then the same page is asked again; nothing is lost."""
    fake = FakeManagementApi(clock, history(350))
    fake.limit_every = 2
    server = await aiohttp_server(fake.app())
    progress, waits = await run_backfill(server, store, redis, clock)
    assert progress.rate_limited >= 2
    assert waits
    assert all(6 <= w <= 7 for w in waits)
    assert progress.completions == 175


async def test_remaining_zero_waits_before_the_next_call(
    aiohttp_server: Any, store: FeedbackStore, redis: Redis, clock: FakeClock
) -> None:
    """An answer saying no calls remain makes the next call wait for the reset (no 429 needed)."""
    fake = FakeManagementApi(clock, history(250))
    fake.remaining_zero_on = 2
    server = await aiohttp_server(fake.app())
    progress, waits = await run_backfill(server, store, redis, clock)
    assert len(waits) == 1
    assert progress.rate_limited == 0
    assert progress.completions == 125


async def test_wrong_client_credentials_stop_with_the_status(
    aiohttp_server: Any, store: FeedbackStore, redis: Redis, clock: FakeClock
) -> None:
    """Credentials refused: a BackfillError naming the call and its status; no checkpoint."""
    fake = FakeManagementApi(clock, history(10))
    server = await aiohttp_server(fake.app())
    async with aiohttp.ClientSession() as session:
        api = ManagementApi(session, str(server.make_url("")), CLIENT_ID, "wrong", clock=clock)
        ingest = Ingest(store, clock=clock, metrics=Metrics())
        with pytest.raises(BackfillError) as caught:
            await Backfill(api, ingest, redis).run()
    assert (caught.value.where, caught.value.status) == ("POST /oauth/token", 401)
    assert await redis.get(CHECKPOINT_KEY) is None


async def test_the_command_runs_a_backfill_from_settings(
    aiohttp_server: Any, redis_url: str, redis: Redis, store: FeedbackStore, tmp_path: Path
) -> None:
    """`smsguard feedback backfill --config FILE` loads the history and says what it did."""
    import time

    from gateway.cli import main

    now = time.time()
    events = [log_event("s", f"900{i:06d}", f"+4477009{i:05d}", now - 3600) for i in range(30)]
    fake = FakeManagementApi(FakeClock(now), events)
    server = await aiohttp_server(fake.app())
    config = tmp_path / "smsguard.yaml"
    config.write_text(
        f"redis: {{url: '{redis_url}'}}\n"
        "rules: {counter_hash_key: test-secret}\n"
        "feedback:\n"
        "  backfill:\n"
        f"    domain: '{str(server.make_url('')).rstrip('/')}'\n"
        f"    client_id: {CLIENT_ID}\n"
        f"    client_secret: {CLIENT_SECRET}\n"
    )
    status = await asyncio.to_thread(main, ["feedback", "backfill", "--config", str(config)])
    assert status == 0
    assert await redis.get(CHECKPOINT_KEY) == b"900000029"
    view = await store.read("+447700900000", {"cc": "GB"}, now)
    assert view.verified_at == int(now - 3600)
