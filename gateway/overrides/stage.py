"""The overrides stage: built at start-up inside its cleanup context, once per app; the policy
consults it before the rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import CLOCK, OVERRIDES, READINESS, REDIS, SETTINGS
from gateway.health import CheckResult
from gateway.logs import get_logger
from gateway.overrides.store import Overrides

log = get_logger("gateway.overrides")


def setup(app: web.Application) -> None:
    """Build app[OVERRIDES] at start-up (after Redis is open, before the policy that consults it);
    its listener runs while the app runs."""
    app.cleanup_ctx.append(_overrides_ctx)


async def _overrides_ctx(app: web.Application) -> AsyncIterator[None]:
    overrides = Overrides(
        app[REDIS], app[CLOCK], refresh_s=app[SETTINGS].dashboard.overrides_refresh_s
    )
    app[OVERRIDES] = overrides
    try:
        async with asyncio.timeout(2):
            await overrides.reload()
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("overrides not loaded at startup; retrying in the background", error=str(exc))

    async def overrides_check() -> CheckResult:
        if not overrides.loaded:
            return CheckResult(False, "not loaded from Redis yet")
        return CheckResult(True, f"{len(overrides.active())} active")

    app[READINESS].add("overrides", overrides_check, required=False)
    overrides.start()
    try:
        yield
    finally:
        await overrides.stop()
