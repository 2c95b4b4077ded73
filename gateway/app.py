"""The application factory: wires every stage once, with its I/O injected.

Order matters: shared resources (HTTP session, Redis) open first and close last; the stages follow
in the order of the message path, so a stage may use those set up before it.

Every stage is built the same way (a new stage copies it):
  - `<stage>.setup(app)`, called below, reads app[SETTINGS], checks what needs no I/O, adds the
    stage's routes and appends ONE cleanup context. It stores nothing under the stage's key.
  - That cleanup context runs at start-up: it builds the stage object with its I/O (app[REDIS],
    app[HTTP], app[CLOCK], the keys of earlier stages), stores it under its typed AppKey from
    gateway/appkeys.py, adds its readiness check, yields, and closes what it opened.
  - Handlers read the stage with `request.app[KEY]` when a request comes. Before start-up the key
    is simply absent: no placeholder object, no client bound late, no attribute swapped in.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import structlog
from aiohttp import web
from redis.asyncio import Redis

from gateway import (
    adaptive,
    dashboard,
    events,
    feedback,
    overrides,
    pin,
    pipeline,
    policy,
    providers,
    signals,
)
from gateway.alerts import stage as alerts
from gateway.appkeys import (
    CLOCK,
    HTTP,
    LOG_FIELDS,
    METRICS,
    PHONE_HASH,
    READINESS,
    REDIS,
    REFUSAL_LOG,
    REQUEST_ID,
    SETTINGS,
)
from gateway.clock import Clock, SystemClock
from gateway.health import CheckResult, Readiness, healthz, readyz
from gateway.logs import PhoneHasher, get_logger
from gateway.metrics import Metrics, metrics_handler
from gateway.redisclient import build_redis
from gateway.redislayout import migrate_legacy_keys
from gateway.refusallog import REFUSED, RefusalAggregator
from gateway.settings import Settings
from gateway.shedding import LoadShedder, lag_probe
from gateway.spend import setup as spend
from gateway.web import client_request_id, request_errors

log = get_logger("gateway.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id and emit one structured line per request (the canonical log line)."""
    request_id = client_request_id(request.headers.get("X-Request-Id")) or uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    request[REQUEST_ID] = request_id
    fields: dict[str, object] = {}
    request[LOG_FIELDS] = fields
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        # aiohttp cancels the handler when the client hangs up: an abort, not a server error.
        status = 499
        fields.setdefault("outcome", "aborted")
        raise
    finally:
        path = request.path
        aggregator = request.app.get(REFUSAL_LOG)
        if aggregator is not None and fields.get("outcome") in REFUSED:
            aggregator.add(str(fields.get("rule")), str(fields["outcome"]))
        elif path not in ("/healthz", "/metrics"):
            log.info(
                "request",
                method=request.method,
                path=path,
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                **fields,
            )


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the gateway application from validated settings. Does no I/O until startup."""
    metrics = Metrics()
    server = settings.server
    shedder = LoadShedder(metrics, server.max_in_flight, server.max_loop_lag_ms)
    app = web.Application(
        # Shedding first: a refused request costs no log line, no parse, no Redis.
        middlewares=[shedder.middleware, request_log, request_errors],
        client_max_size=settings.intake.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = metrics
    if server.max_loop_lag_ms:
        app.cleanup_ctx.append(lambda _: lag_probe(shedder))
    app[READINESS] = Readiness(details=settings.server.readyz_details)
    key = settings.logging.phone_hash_key
    app[PHONE_HASH] = PhoneHasher(key.get_secret_value().encode() if key else None)
    if settings.logging.aggregate_refusals:
        app.cleanup_ctx.append(_refusal_log)
    app.cleanup_ctx.append(_http_session)
    app.cleanup_ctx.append(_redis_client)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)

    # Alerts first: every stage after it may report to app[ALERTS] from start-up on.
    alerts.setup(app)
    # Stages in the order of the message path; each opens its resources after the shared ones.
    signals.setup(app)
    providers.setup(app)
    spend.setup(app)
    overrides.setup(app)
    policy.setup(app)
    events.setup(app)
    feedback.setup(app)  # before the path and the PIN step: both call app[FEEDBACK]
    adaptive.setup(app)  # after the policy and the overrides it watches with
    pipeline.setup(app)
    pin.setup(app)
    dashboard.setup(app)
    return app


async def _refusal_log(app: web.Application) -> AsyncIterator[None]:
    aggregator = RefusalAggregator(app[CLOCK], log)
    app[REFUSAL_LOG] = aggregator
    yield
    aggregator.flush()


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    # One session for every provider call: connection reuse matters at attack-time volumes.
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=100, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector, raise_for_status=False) as session:
        app[HTTP] = session
        yield


async def _redis_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    client: Redis = build_redis(settings.redis)
    await migrate_legacy_keys(client)
    app[REDIS] = client

    async def redis_ping() -> CheckResult:
        await client.ping()
        return CheckResult(True, "PING ok")

    app[READINESS].add("redis", redis_ping)
    try:
        yield
    finally:
        await client.aclose()
