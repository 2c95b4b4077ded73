"""Completion feedback: which codes were used, learned from Auth0, kept in Redis for the decision.

    Auth0 log stream   POST /v1/auth0/log-stream      -> logstream -> auth0log --+
    post-login Action  POST /v1/auth0/login-completed -> action ------------------+--> ingest
    `smsguard feedback backfill` (Management API logs) -> backfill -> auth0log --+      |
    PIN step (enrolled / verified) ---+                                                  v
    POST /sms, message relayed -------+--> recorder (bounded queue, off the path) --> store

What lives where:
    keys.py       the key layout, buckets, windows and dimensions: the interface the decision reads
    store.py      the atomic write script (open a code, complete it once, count) and a reader
    recorder.py   the bounded in-memory queue and its writer task (sent codes, PIN completions)
    auth0log.py   Auth0 log events -> completions / failures (body formats, envelope, types)
    ingest.py     applying a batch within a deadline, with the records metric
    logstream.py  POST /v1/auth0/log-stream (Custom Webhook), its auth and body limit
    action.py     POST /v1/auth0/login-completed (deploy/auth0/login-completed.js)
    backfill.py   past logins from GET /api/v2/logs, paginated, rate-limit aware, checkpointed
    cli.py        `smsguard feedback backfill`

`setup(app)` opens the store on the shared Redis, starts the writer, and adds the endpoints that
the settings enable; app[FEEDBACK] is the recorder the message path and the PIN step call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import CLOCK, FEEDBACK, METRICS, REDIS, SETTINGS
from gateway.feedback.action import LoginCompletedEndpoint
from gateway.feedback.ingest import Ingest
from gateway.feedback.keys import FeedbackKeys
from gateway.feedback.logstream import LogStreamEndpoint
from gateway.feedback.recorder import FeedbackRecorder
from gateway.feedback.store import FeedbackStore, StoreConfig
from gateway.intake import TokenVerifier
from gateway.logs import get_logger
from gateway.settings import FeedbackSettings, Settings
from gateway.velocity import CounterKeys

log = get_logger("gateway.feedback")

LOG_STREAM = web.AppKey("feedback_log_stream", LogStreamEndpoint)
LOGIN_COMPLETED = web.AppKey("feedback_login_completed", LoginCompletedEndpoint)


def store_config(settings: FeedbackSettings) -> StoreConfig:
    return StoreConfig(
        verified_ttl_s=settings.verified_ttl_days * 86_400,
        open_code_ttl_s=settings.open_code_ttl_s,
        max_open_codes=settings.max_open_codes,
        dedupe_ttl_s=settings.dedupe_ttl_days * 86_400,
        clock_skew_s=settings.clock_skew_s,
    )


def counter_secret(settings: Settings) -> bytes | None:
    secret = settings.rules.counter_hash_key
    return secret.get_secret_value().encode() if secret is not None else None


def setup(app: web.Application) -> None:
    """Add the feedback endpoints the settings enable; open the store at startup."""
    settings = app[SETTINGS].feedback

    async def log_stream(request: web.Request) -> web.Response:
        return await request.app[LOG_STREAM].handle(request)

    async def login_completed(request: web.Request) -> web.Response:
        return await request.app[LOGIN_COMPLETED].handle(request)

    if settings.log_stream.authorization is not None:
        app.router.add_post("/v1/auth0/log-stream", log_stream)
    if settings.login_action:
        app.router.add_post("/v1/auth0/login-completed", login_completed)
    app.cleanup_ctx.append(_feedback_ctx)


async def _feedback_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    fb = settings.feedback
    store = FeedbackStore(app[REDIS], FeedbackKeys(CounterKeys(None)), store_config(fb))
    recorder = FeedbackRecorder(
        store,
        clock=app[CLOCK],
        metrics=app[METRICS],
        capacity=fb.queue,
        batch_size=fb.batch_size,
        flush_interval_s=fb.flush_interval_ms / 1000,
    )
    app[FEEDBACK] = recorder
    ingest = Ingest(store, clock=app[CLOCK], metrics=app[METRICS])
    if fb.log_stream.authorization is not None:
        app[LOG_STREAM] = LogStreamEndpoint(
            ingest,
            authorization=fb.log_stream.authorization.get_secret_value(),
            max_body_bytes=fb.log_stream.max_body_bytes,
        )
    if fb.login_action:
        app[LOGIN_COMPLETED] = LoginCompletedEndpoint(
            ingest, TokenVerifier(settings.auth0, app[CLOCK])
        )
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(_settle_secret(store, counter_secret(settings))),
        loop.create_task(recorder.run()),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(2.0):
                await recorder.flush()  # what is still queued, if Redis answers
        if recorder.pending:
            recorder.metrics.feedback_dropped.inc(recorder.pending)
            log.warning("feedback writes lost at shutdown", pending=recorder.pending)


async def _settle_secret(store: FeedbackStore, configured: bytes | None) -> None:
    """Learn the counters' secret (shared in Redis unless configured); retry while Redis fails."""
    delay = 0.5
    while True:
        try:
            async with asyncio.timeout(2.0):
                await store.resolve_secret(configured)
            return
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("feedback waits for Redis", error=str(exc) or type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
