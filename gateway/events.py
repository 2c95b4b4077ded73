"""Event log: every decision, recorded off the request path (Redis stream + aggregates).

The message path depends only on the `EventSink` protocol: `record` must never block or raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from gateway.appkeys import EVENTS

from gateway.models import Decision, SmsRequest
from gateway.signals import Signals


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened after the decision."""

    status: str  # "sent", "blocked", "dropped", "failed" (every provider failed), "error"
    http_status: int
    provider: str | None = None
    provider_message_id: str | None = None
    error: str | None = None
    latency_ms: float = 0.0


class EventSink(Protocol):
    def record(self, sms: SmsRequest, signals: Signals | None, decision: Decision | None,
               outcome: Outcome) -> None:
        """Queue one event; never blocks, never raises (drops with a counter when full)."""
        ...


class NullSink:
    """Records nothing; replaced by the Redis event recorder."""

    def record(self, sms: SmsRequest, signals: Signals | None, decision: Decision | None,
               outcome: Outcome) -> None:
        return None


def setup(app: web.Application) -> None:
    app[EVENTS] = NullSink()
