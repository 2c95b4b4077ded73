"""The PIN step: enrollment and verification after an SMS login (browser redirect and JSON API)."""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import SETTINGS
from gateway.logs import get_logger

log = get_logger("gateway.pin")


def setup(app: web.Application) -> None:
    if not app[SETTINGS].pin.enabled:
        log.info("pin step off", hint="set pin.enabled: true and its keys to serve /pin and /v1/pin")
        return
