"""The dashboard stage: what every dashboard handler shares, built at start-up as app[DASHBOARD]."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.appkeys import CLOCK, DASHBOARD, REDIS, SETTINGS
from gateway.dashboard.auth import Authenticator, LoginLimiter, SessionStore
from gateway.prices import operator_prices
from gateway.settings import PricesSettings, Settings


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The settings, prices, password checker, session store and login limiter of the dashboard."""

    settings: Settings
    # Money saved uses the prices in force (prices.file or the shipped table, under `prices:`).
    prices: PricesSettings
    auth: Authenticator
    sessions: SessionStore
    limiter: LoginLimiter


async def dashboard_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the dashboard once Redis is open; nothing of it exists before start-up."""
    settings = app[SETTINGS]
    app[DASHBOARD] = Dashboard(
        settings=settings,
        prices=operator_prices(settings.prices).as_settings(),
        auth=Authenticator(settings.dashboard),
        sessions=SessionStore(app[REDIS], settings.dashboard, app[CLOCK]),
        limiter=LoginLimiter(app[REDIS], settings.dashboard, app[CLOCK]),
    )
    yield
