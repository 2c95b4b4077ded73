"""app[SPEND]: the rates, budget pricing and the spend ledger, built at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.appkeys import ALERTS, CLOCK, METRICS, POLICY, REDIS, ROUTER, SETTINGS, SPEND
from gateway.policy.budget import BudgetPricing
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import RuleSet
from gateway.providers.router import ProviderRouter
from gateway.spend.audit import watch_rules
from gateway.spend.ledger import SpendLedger
from gateway.spend.rates import Rates, load_rates
from gateway.spend.watch import SpendWatch


@dataclass(frozen=True)
class Spend:
    rates: Rates
    pricing: BudgetPricing
    ledger: SpendLedger


def setup(app: web.Application) -> None:
    async def spend(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        rates = load_rates(settings.prices)
        router = app[ROUTER]

        def route_of(country: str | None) -> str:
            """The first provider of the country's route (a budget's `key: route`)."""
            if not isinstance(router, ProviderRouter):
                return "default"
            route = router.route_for(country)
            return route[0] if route else "default"

        watch = SpendWatch(rates, app[METRICS], app.get(ALERTS))
        pricing = BudgetPricing(rates, route_of, watch)
        ledger = SpendLedger(app[REDIS], rates, app[CLOCK], app[METRICS])
        app[SPEND] = Spend(rates, pricing, ledger)

        def running_rules() -> RuleSet | None:
            engine = app.get(POLICY)  # built after this stage, by gateway.policy
            return engine.rules if isinstance(engine, RuleEngine) else None

        audit = asyncio.create_task(
            watch_rules(app[REDIS], running_rules, rates, app[CLOCK].time), name="budget-audit"
        )
        yield
        audit.cancel()
        await asyncio.gather(audit, return_exceptions=True)
        await ledger.drain()

    app.cleanup_ctx.append(spend)
