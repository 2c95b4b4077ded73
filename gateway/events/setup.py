"""Wiring: the Redis event recorder as app[EVENTS], its writer running while the app runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import CLOCK, EVENTS, METRICS, PHONE_HASH, READINESS, REDIS, SETTINGS
from gateway.events.recorder import EventRecorder
from gateway.health import CheckResult


def setup(app: web.Application) -> None:
    """Install the Redis event recorder as app[EVENTS]; its writer runs while the app runs."""

    async def recorder(app: web.Application) -> AsyncIterator[None]:
        sink = EventRecorder(
            app[REDIS],
            app[SETTINGS].events,
            clock=app[CLOCK],
            metrics=app[METRICS],
            hasher=app[PHONE_HASH],
        )
        app[EVENTS] = sink

        async def events_check() -> CheckResult:
            st = sink.stats
            detail = f"pending {sink.pending}, written {st.written}, dropped {st.dropped}" + (
                ", writes failing" if st.failing else ""
            )
            return CheckResult(not st.failing, detail)

        # Not required: the gateway keeps serving without its event log.
        app[READINESS].add("events", events_check, required=False)
        task = asyncio.create_task(sink.run(), name="events-writer")
        try:
            yield
        finally:
            # Cancel until done: a cancellation that coincides with the wait's own timeout can be
            # swallowed (asyncio.timeout on 3.11), and must not hang the shutdown.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.2)
            await sink.close()

    app.cleanup_ctx.append(recorder)
