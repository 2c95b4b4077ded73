"""The Spend page: spend per country and route today and this month, each budget's progress in its
current period, delivered vs failed spend, who changed a budget, and the alerts sent.

Everything is read from Redis: the spend ledger (gateway/spend/ledger.py), the budget counters
(the same keys the velocity script writes), the budget audit (gateway/spend/audit.py) and the
alert dispatcher's list of sent alerts (gateway/alerts/incidents.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from gateway.alerts.incidents import sent_alerts
from gateway.appkeys import CLOCK, POLICY, REDIS, SPEND
from gateway.dashboard.auth import Session
from gateway.dashboard.page import render, secure
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import Rule
from gateway.spend.audit import budget_audit
from gateway.spend.counters import TOTAL
from gateway.spend.ledger import dates, day_key, month_key
from gateway.spend.rates import Rates


@dataclass(frozen=True, slots=True)
class Line:
    """One row of a spend table: a country or route and what it cost."""

    name: str
    micros: int
    shown: str


@dataclass(frozen=True, slots=True)
class Ledger:
    """Spend of one day or month."""

    label: str
    total: str
    messages: int
    countries: list[Line]
    routes: list[Line]
    delivered: str
    failed: str


@dataclass(frozen=True, slots=True)
class Progress:
    """One budget counter in its current period."""

    rule: str
    subject: str
    period: str  # "daily (2026-12-03, Asia/Bishkek)"
    spent: str
    limit: str
    ratio: float  # 0..1
    mode: str


@dataclass(frozen=True, slots=True)
class SpendView:
    currency: str
    today: Ledger
    month: Ledger
    budgets: list[Progress]
    audit: list[dict[str, object]]
    alerts: list[dict[str, object]]


def _ledger(label: str, raw: dict[str, int], rates: Rates) -> Ledger:
    def lines(prefix: str) -> list[Line]:
        rows = [(k[len(prefix) :], v) for k, v in raw.items() if k.startswith(prefix)]
        rows.sort(key=lambda row: -row[1])
        return [Line(name, micros, rates.show(micros)) for name, micros in rows]

    return Ledger(
        label,
        rates.show(raw.get("total", 0)),
        raw.get("n", 0),
        lines("c:"),
        lines("r:"),
        rates.show(raw.get("delivered", 0)),
        rates.show(raw.get("failed", 0)),
    )


async def _read(redis: Redis, key: str) -> dict[str, int]:
    raw = await redis.hgetall(key)
    return {_text(k): int(v) for k, v in raw.items()}


def _values(rule: Rule, today: Ledger) -> list[str]:
    """Which counters of a budget to show: one for an overall budget, else those with spend today
    (a budget per country or route counts each in its own counter)."""
    assert rule.budget is not None
    if rule.budget.key == "global":
        return [""]
    if rule.budget.key == "country":
        return [line.name for line in today.countries]
    if rule.budget.key == "route":
        return [line.name for line in today.routes]
    return []  # a counter per number range: too many to list; the events page has them


async def spend_view(redis: Redis, engine: RuleEngine, rates: Rates, now: float) -> SpendView:
    day, month = dates(now)
    today = _ledger(f"Today ({day}, UTC)", await _read(redis, day_key(day)), rates)
    this_month = _ledger(f"This month ({month})", await _read(redis, month_key(month)), rates)
    budgets: list[Progress] = []
    for rule in engine.rules.rules:
        budget = rule.budget
        if budget is None:
            continue
        window = budget.period.window(now)
        where = f"{window.name}, {budget.period.timezone}" if window.name else "to the minute"
        for value in _values(rule, today):
            key = engine.store.keys.key(rule.id, [value, window.name])
            spent = int(await redis.hget(key, TOTAL) or 0)
            budgets.append(
                Progress(
                    rule.id,
                    budget.subject(value),
                    f"{budget.period.adjective} ({where})",
                    rates.show(spent),
                    rates.show(budget.max_micros),
                    min(spent / budget.max_micros, 1.0),
                    rule.mode,
                )
            )
    return SpendView(
        rates.currency,
        today,
        this_month,
        budgets,
        await budget_audit(redis, 20),
        await sent_alerts(redis, 20),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def spend_page(request: web.Request, session: Session) -> web.StreamResponse:
    engine, spend = request.app[POLICY], request.app.get(SPEND)
    if not isinstance(engine, RuleEngine) or spend is None:
        return secure(request, web.Response(status=404, text="no rule engine, no spend"))
    view = await spend_view(request.app[REDIS], engine, spend.rates, request.app[CLOCK].time())
    return render("dashboard/spend.html", request, session, {"view": view})
