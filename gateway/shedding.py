"""Load shedding: refuse POST /sms early, cheaply, when the worker cannot decide in time.

A worker whose event loop is saturated still accepts connections; every request it takes then
waits behind the others, its Redis round trip overruns `redis.call_timeout_ms` while the loop is
busy, and the decision falls back to per-process counters. Refusing the excess before any work
(no JWT check, no parse, no Redis, nothing sent) keeps the requests it does take within budget.

Two triggers, either enough: more than `server.max_in_flight` POST /sms requests being handled at
once in this worker, or the event loop running late by more than `server.max_loop_lag_ms` (a
probe wakes every `LAG_PROBE_S` and measures how late it woke). The answer is 503 with
`Retry-After: 1`: nothing was decided, counted or sent, so a retry is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from gateway.metrics import Metrics

LAG_PROBE_S = 0.05
SHED_PATH = "/sms"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoadShedder:
    """Counts POST /sms in flight and watches the loop's lag; says when to refuse."""

    def __init__(self, metrics: Metrics, max_in_flight: int, max_loop_lag_ms: float) -> None:
        self._metrics = metrics
        self.max_in_flight = max_in_flight
        self.max_lag_s = max_loop_lag_ms / 1000
        self.in_flight = 0
        self.lag_s = 0.0

    def overloaded(self) -> str | None:
        """Why a new request should be refused now, or None."""
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            return "in_flight"
        if self.max_lag_s and self.lag_s > self.max_lag_s:
            return "loop_lag"
        return None

    async def watch_lag(self) -> None:
        """Measure how late the loop wakes a sleeper, forever (a task cancelled at cleanup)."""
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + LAG_PROBE_S
            await asyncio.sleep(LAG_PROBE_S)
            self.lag_s = max(0.0, loop.time() - expected)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != SHED_PATH or request.method != "POST":
            return await handler(request)
        reason = self.overloaded()
        if reason is not None:
            self._metrics.shed.labels(reason).inc()
            return web.json_response(
                {"error": "overloaded, retry"}, status=503, headers={"Retry-After": "1"}
            )
        self.in_flight += 1
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


@contextlib.asynccontextmanager
async def lag_probe(shedder: LoadShedder) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(shedder.watch_lag())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
