"""The provider interface: one method, `send`, with I/O injected (Deps: session, Redis, clock)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp

from gateway.alerts.model import AlertSink
from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.models import OutboundSms, SendResult

if TYPE_CHECKING:
    from redis.asyncio import Redis


class Provider(Protocol):
    name: str

    async def send(self, sms: OutboundSms, deadline: float) -> SendResult:
        """Deliver one message before `deadline` (a clock.monotonic() value).

        Retries, with jittered backoff while time remains, only what cannot have been accepted
        (connection not made, 5xx, 429); never a read timeout. A success status with an
        unreadable answer counts as sent. Raises ProviderError when it gives up.
        """
        ...


class Router(Protocol):
    """Sends a message through the configured providers, failing over; see providers/router.py."""

    async def send(self, sms: OutboundSms, deadline: float) -> SendResult:
        """Raises gateway.errors.AllProvidersFailed when every provider on the route failed."""
        ...


@dataclass(frozen=True)
class Deps:
    """What adapters are built with: the shared I/O and where the gateway is reachable."""

    session: aiohttp.ClientSession
    redis: Redis
    clock: Clock
    metrics: Metrics
    public_url: str | None = None
    alerts: AlertSink | None = None
