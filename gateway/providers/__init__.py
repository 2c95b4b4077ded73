"""SMS providers: Twilio, Vonage, a generic HTTP API and the sandbox, behind one router.

    app[ROUTER]: ProviderRouter
        await router.send(OutboundSms(...), deadline=clock.monotonic() + seconds) -> SendResult
        raises AllProvidersFailed (a ProviderError) when no provider on the route accepted it

`setup(app)` adds the routes (GET /sandbox/messages when a sandbox is exposed, POST
/providers/twilio/status when Twilio is configured) and a cleanup context that builds the
adapters once app[HTTP] and app[REDIS] exist. `delivery_status(redis, message_id)` reads what the
provider last reported about a message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from gateway.appkeys import CLOCK, HTTP, METRICS, READINESS, REDIS, ROUTER, SETTINGS
from gateway.clock import Clock
from gateway.health import CheckResult
from gateway.metrics import Metrics
from gateway.providers.base import Provider
from gateway.providers.breaker import CircuitBreaker, CircuitState
from gateway.providers.generic import GenericHttpProvider
from gateway.providers.router import ProviderRouter
from gateway.providers.sandbox import SandboxProvider, messages_handler
from gateway.providers.status import STATUS_PATH, delivery_status, status_handler
from gateway.providers.twilio import TwilioProvider
from gateway.providers.vonage import VonageProvider
from gateway.settings import (
    HttpProviderSettings,
    SandboxSettings,
    Settings,
    TwilioSettings,
    VonageSettings,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ProviderRouter", "build_router", "delivery_status", "setup"]


@dataclass(frozen=True)
class Deps:
    """What adapters are built with: the shared I/O and where the gateway is reachable."""

    session: aiohttp.ClientSession
    redis: Redis
    clock: Clock
    metrics: Metrics
    public_url: str | None = None


def _twilio(s: Any, d: Deps) -> Provider:
    return TwilioProvider(s, d.session, d.clock, d.metrics, public_url=d.public_url)


def _vonage(s: Any, d: Deps) -> Provider:
    return VonageProvider(s, d.session, d.clock, d.metrics)


def _http(s: Any, d: Deps) -> Provider:
    return GenericHttpProvider(s, d.session, d.clock, d.metrics)


def _sandbox(s: Any, d: Deps) -> Provider:
    return SandboxProvider(s, d.redis, d.clock, d.metrics)


# The YAML `type:` of a provider -> how to build its adapter.
BUILDERS: dict[type, Callable[[Any, Deps], Provider]] = {
    TwilioSettings: _twilio,
    VonageSettings: _vonage,
    HttpProviderSettings: _http,
    SandboxSettings: _sandbox,
}


def build_router(settings: Settings, deps: Deps) -> ProviderRouter:
    """Every configured provider with its circuit breaker, routed as settings.routes says."""
    providers = [BUILDERS[type(p)](p, deps) for p in settings.providers]
    breakers = {
        p.name: CircuitBreaker(p.name, p.breaker, deps.clock, deps.metrics)
        for p in settings.providers
    }
    return ProviderRouter(providers, breakers, settings.routes, deps.clock)


def setup(app: web.Application) -> None:
    """Add the provider routes and the context that builds app[ROUTER] at startup."""
    settings = app[SETTINGS]
    exposed = [p.name for p in settings.providers if isinstance(p, SandboxSettings) and p.expose]
    if exposed:
        app.router.add_get("/sandbox/messages", messages_handler(exposed))
    twilios = [p for p in settings.providers if isinstance(p, TwilioSettings)]
    if twilios:
        app.router.add_post(STATUS_PATH, status_handler(twilios, settings.server.public_url))
    app.cleanup_ctx.append(_providers_ctx)


async def _providers_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    deps = Deps(app[HTTP], app[REDIS], app[CLOCK], app[METRICS], settings.server.public_url)
    router = build_router(settings, deps)
    app[ROUTER] = router

    async def providers_ready() -> CheckResult:
        states = router.states()
        detail = ", ".join(f"{name}: {state.name.lower()}" for name, state in states.items())
        if not states:
            return CheckResult(False, "no provider configured")
        if all(state is CircuitState.OPEN for state in states.values()):
            return CheckResult(False, f"every circuit is open ({detail})")
        return CheckResult(True, detail)

    app[READINESS].add("providers", providers_ready)
    yield
