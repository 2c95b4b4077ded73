"""Who hears that a budget is filling: the used-ratio gauge, and an alert at 50%, 80% and 100%.

The engine reports each message a budget admitted (and each it refused) as a BudgetUse. Crossing
a threshold is decided from the spend before and after this message, so exactly one decision per
period crosses it on all replicas together (the script serialises them); the alert's incident key
names the budget, the period and the threshold, so a replica that reports it again is the same
incident (gateway/alerts). A refusal means the budget is at 100%.
"""

from __future__ import annotations

from typing import Protocol

from gateway.alerts.model import Alert, Severity
from gateway.metrics import Metrics
from gateway.policy.budget import BudgetUse
from gateway.spend.rates import Rates

SPEND_PAGE = "/dashboard/spend"
THRESHOLDS = ((100, Severity.CRITICAL), (80, Severity.WARNING), (50, Severity.INFO))


class Alerts(Protocol):
    """The part of app[ALERTS] this needs (gateway.alerts.dispatcher.Alerter)."""

    def fire(self, alert: Alert) -> None: ...


class SpendWatch:
    def __init__(self, rates: Rates, metrics: Metrics | None, alerts: Alerts | None) -> None:
        self.rates = rates
        self.metrics = metrics
        self.alerts = alerts

    def __call__(self, use: BudgetUse, now: float) -> None:
        after = use.spent if use.refused else use.spent + use.cost
        if self.metrics is not None:
            self.metrics.budget_used.labels(use.rule_id).set(min(after / use.max_micros, 1.0))
        if self.alerts is None:
            return
        for percent, severity in THRESHOLDS:
            mark = use.max_micros * percent // 100
            if (use.refused and percent == 100) or use.spent < mark <= after:
                self.alerts.fire(self.alert(use, percent, severity, after, now))
                return  # the highest threshold passed says it all

    def alert(
        self, use: BudgetUse, percent: int, severity: Severity, spent: int, now: float
    ) -> Alert:
        period = use.window.name or "rolling"
        what = f"{use.period.capitalize()} budget {use.subject}"
        return Alert(
            # One incident per budget counter (a per-country budget: per country), period and
            # threshold.
            key=":".join(p for p in ("budget", use.rule_id, use.value, period, str(percent)) if p),
            severity=severity,
            title=f"{what} {'reached' if percent == 100 else f'at {percent}%'}",
            summary=(
                f"{self.rates.show(spent)} of {self.rates.show(use.max_micros)} spent"
                + (f" ({period})" if use.window.name else "")
                + (": messages are refused" if percent == 100 else "")
            ),
            since=now,
            link_path=SPEND_PAGE,
            values={"rule": use.rule_id, "spent_micros": spent, "max_micros": use.max_micros},
        )
