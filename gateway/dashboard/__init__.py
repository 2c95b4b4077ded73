"""The security team's dashboard: what was blocked, why, and what to do about it."""

from __future__ import annotations

from aiohttp import web

from gateway.logs import get_logger

log = get_logger("gateway.dashboard")


def setup(app: web.Application) -> None:
    log.info("dashboard off", hint="add dashboard users to the settings to enable /dashboard")
