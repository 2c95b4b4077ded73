"""The alerts stage: the Alerter, built at start-up as app[ALERTS], delivering alerts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.alerts.dispatcher import Alerter
from gateway.alerts.incidents import RedisIncidents
from gateway.alerts.notifiers import build_notifier
from gateway.alerts.surge import SurgeWatch
from gateway.appkeys import ALERTS, CLOCK, HTTP, METRICS, REDIS, SETTINGS
from gateway.settings import Settings

_DRAIN_S = 2.0  # at shutdown, how long queued alerts may still take to go out


def dashboard_url(settings: Settings) -> str:
    server = settings.server
    return (
        settings.alerts.dashboard_url or server.public_url or f"http://{server.host}:{server.port}"
    )


def setup(app: web.Application) -> None:
    """Build the alerter at start-up as app[ALERTS]; it delivers while the app runs."""

    async def alerter(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        clock = app[CLOCK]
        alerts = settings.alerts
        instance = Alerter(
            [build_notifier(n, clock) for n in alerts.notifiers],
            RedisIncidents(app[REDIS], keep_s=max(86_400, 4 * alerts.resolve_after_s)),
            alerts,
            app[HTTP],
            clock,
            app[METRICS],
            dashboard_url(settings),
        )
        app[ALERTS] = instance
        surge = SurgeWatch(app[REDIS], instance, clock, alerts.surge)
        tasks = [
            asyncio.create_task(instance.run(), name="alerts"),
            asyncio.create_task(surge.run(), name="alerts-surge"),
        ]
        try:
            yield
        finally:
            await instance.drain(_DRAIN_S)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    app.cleanup_ctx.append(alerter)
