"""SMS providers: Twilio, Vonage, a generic HTTP API and the sandbox, behind one router.

    app[ROUTER]: ProviderRouter
        await router.send(OutboundSms(...), deadline=clock.monotonic() + seconds) -> SendResult
        raises AllProvidersFailed (a ProviderError) when no provider on the route accepted it

`setup(app)` adds the routes (GET /sandbox/messages when a sandbox is exposed, POST
/providers/twilio/status when Twilio is configured) and a cleanup context that builds the
adapters once app[HTTP] and app[REDIS] exist. `delivery_status(redis, message_id)` reads what the
provider last reported about a message.

    base        the Provider interface and Deps (what an adapter is built with)
    registry    the provider types, one entry each; twilio, vonage, generic (http), sandbox:
                each type's settings model, beside its adapter
    http, retry the shared HTTP adapter with its retries; breaker, router: failover
    status      Twilio delivery-status callbacks
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

# Whole and first: the settings' root model collects the provider types from registry.py, whose
# modules build on gateway.settings; loading the settings first keeps that one-way.
import gateway.settings
from gateway.appkeys import ALERTS, CLOCK, HTTP, METRICS, READINESS, REDIS, ROUTER, SETTINGS
from gateway.health import CheckResult
from gateway.providers.base import Deps
from gateway.providers.breaker import CircuitBreaker, CircuitState
from gateway.providers.router import ProviderRouter
from gateway.providers.sandbox import SandboxSettings, messages_handler
from gateway.providers.status import STATUS_PATH, delivery_status, status_handler
from gateway.providers.twilio import TwilioSettings
from gateway.providers.vonage import VonageSettings
from gateway.providers.vonage_status import VONAGE_STATUS_PATH, vonage_status_handler

__all__ = ["Deps", "ProviderRouter", "build_router", "delivery_status", "setup"]


def build_router(settings: gateway.settings.Settings, deps: Deps) -> ProviderRouter:
    """Every configured provider with its circuit breaker, routed as settings.routes says."""
    providers = [p.build_provider(deps) for p in settings.providers]
    breakers = {
        p.name: CircuitBreaker(p.name, p.breaker, deps.clock, deps.metrics, deps.alerts)
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
    vonages = [p for p in settings.providers if isinstance(p, VonageSettings)]
    if any(p.signature_secret is not None for p in vonages):
        app.router.add_route("*", VONAGE_STATUS_PATH, vonage_status_handler(vonages))
    app.cleanup_ctx.append(_providers_ctx)


async def _providers_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    deps = Deps(
        app[HTTP],
        app[REDIS],
        app[CLOCK],
        app[METRICS],
        settings.server.public_url,
        app.get(ALERTS),
    )
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
