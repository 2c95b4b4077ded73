"""Wiring: the extractor as app[SIGNALS], with its GeoIP databases opened at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import CLOCK, READINESS, SETTINGS, SIGNALS
from gateway.clock import SystemClock
from gateway.errors import ConfigError
from gateway.geoip import MAX_AGE_DAYS, GeoIp
from gateway.health import CheckResult
from gateway.logs import get_logger
from gateway.settings import Settings
from gateway.signals.extract import SignalExtractor

log = get_logger("gateway.signals")


def setup(app: web.Application) -> None:
    """Build app[SIGNALS] at startup with the GeoIP databases open; close them on cleanup.

    A configured database file that is missing or of the wrong type fails startup with a
    ConfigError naming the `geoip.*` key.
    """
    settings = app[SETTINGS]
    clock = app.get(CLOCK) or SystemClock()

    async def geoip_databases(app: web.Application) -> AsyncIterator[None]:
        geoip = GeoIp.open(settings.geoip, settings.source)
        extractor = SignalExtractor(geoip, templates=settings.signals.expected_templates)
        app[SIGNALS] = extractor

        async def check() -> CheckResult:
            loaded = extractor.geoip.describe()
            if not loaded:
                return CheckResult(False, "no database configured: IP conditions are unknown")
            detail = "; ".join(f"{k}: {v}" for k, v in loaded.items())
            stale = extractor.geoip.stale(clock.time())
            if stale:
                return CheckResult(
                    False,
                    f"{detail}; older than {MAX_AGE_DAYS} days: {', '.join(stale)} "
                    "(is geoipupdate running?)",
                )
            return CheckResult(True, detail)

        app[READINESS].add("geoip", check, required=False)
        interval = settings.geoip.reload_check_s
        watcher = asyncio.create_task(_reopen_replaced(extractor, settings, interval))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            extractor.geoip.close()
            extractor.geoip = GeoIp()

    app.cleanup_ctx.append(geoip_databases)


async def _reopen_replaced(extractor: SignalExtractor, settings: Settings, interval: float) -> None:
    """Every `interval` seconds, reopen the databases if geoipupdate replaced a file."""
    if interval <= 0 or not extractor.geoip.files:
        return
    while True:
        await asyncio.sleep(interval)
        if not extractor.geoip.replaced():
            continue
        try:
            fresh = await asyncio.to_thread(GeoIp.open, settings.geoip, settings.source)
        except ConfigError as exc:
            log.error("geoip_reopen_failed", problems=[str(p) for p in exc.problems])
            continue
        # compute() runs on the event loop, so no lookup is using the old readers right now.
        old, extractor.geoip = extractor.geoip, fresh
        old.close()
        log.info("geoip_reopened", databases=fresh.describe())
