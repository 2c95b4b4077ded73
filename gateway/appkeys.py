"""Every shared resource of the application, as typed aiohttp AppKeys, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from gateway.clock import Clock
from gateway.logs import PhoneHasher
from gateway.metrics import Metrics
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.health import Readiness

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
PHONE_HASH = web.AppKey("phone_hash", PhoneHasher)
HTTP = web.AppKey("http", aiohttp.ClientSession)
REDIS = web.AppKey("redis", "Redis[bytes]")
READINESS = web.AppKey("readiness", "Readiness")
# Set by the stages that own them; typed as Any here to keep this module free of cycles.
PIPELINE = web.AppKey("pipeline", Any)
POLICY = web.AppKey("policy", Any)
ROUTER = web.AppKey("router", Any)
EVENTS = web.AppKey("events", Any)
SIGNALS = web.AppKey("signals", Any)
OVERRIDES = web.AppKey("overrides", Any)
