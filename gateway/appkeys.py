"""Every shared resource of the application, as typed aiohttp AppKeys, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from gateway.clock import Clock
from gateway.logs import PhoneHasher
from gateway.metrics import Metrics
from gateway.refusallog import RefusalAggregator

if TYPE_CHECKING:
    from gateway.alerts.dispatcher import Alerter
    from gateway.dashboard.stage import Dashboard
    from gateway.events import EventSink
    from gateway.feedback.recorder import FeedbackRecorder
    from gateway.health import Readiness
    from gateway.overrides import Overrides
    from gateway.pin.stage import PinStep
    from gateway.pipeline import MessagePath
    from gateway.policy.engine import RuleEngine
    from gateway.providers.base import Router
    from gateway.settings import Settings
    from gateway.signals import SignalSource
    from gateway.spend.setup import Spend

CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
PHONE_HASH = web.AppKey("phone_hash", PhoneHasher)
HTTP = web.AppKey("http", aiohttp.ClientSession)
# Keys whose types live in stage modules are annotated (no runtime import, so no cycles).
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
REDIS: web.AppKey[Redis] = web.AppKey("redis")
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
PIPELINE: web.AppKey[MessagePath] = web.AppKey("pipeline")
POLICY: web.AppKey[RuleEngine] = web.AppKey("policy")
ROUTER: web.AppKey[Router] = web.AppKey("router")
EVENTS: web.AppKey[EventSink] = web.AppKey("events")
SIGNALS: web.AppKey[SignalSource] = web.AppKey("signals")
OVERRIDES: web.AppKey[Overrides] = web.AppKey("overrides")
ALERTS: web.AppKey[Alerter] = web.AppKey("alerts")
FEEDBACK: web.AppKey[FeedbackRecorder] = web.AppKey("feedback")
PIN_STEP: web.AppKey[PinStep] = web.AppKey("pin_step")
DASHBOARD: web.AppKey[Dashboard] = web.AppKey("dashboard")
SPEND: web.AppKey[Spend] = web.AppKey("spend")

# Per-request storage: the request id, and the fields of the request's one log line.
REFUSAL_LOG = web.AppKey("refusal_log", RefusalAggregator)
REQUEST_ID = web.RequestKey("request_id", str)
LOG_FIELDS = web.RequestKey("log_fields", dict)
