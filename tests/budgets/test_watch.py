"""The budget watch: the used-ratio gauge, and one alert as a budget passes 50%, 80%, 100%."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.alerts.incidents import RedisIncidents, sent_alerts
from gateway.alerts.model import Alert, Severity
from gateway.metrics import Metrics
from gateway.policy.budget import BudgetUse
from gateway.spend.periods import Window
from gateway.spend.rates import Rates
from gateway.spend.watch import SpendWatch

DAY = Window("2026-12-03", 90_000_000, 0, 0, 0.0)


class Collected:
    """Receives what app[ALERTS] would (the watch's only dependency on the alerter)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def fire(self, alert: Alert) -> None:
        self.alerts.append(alert)


def use(spent: int, cost: int, *, refused: bool = False) -> BudgetUse:
    return BudgetUse("budget-kg", "KG", "for KG", "daily", spent, cost, 50_000_000, DAY, refused)


def test_each_threshold_alerts_once_when_passed() -> None:
    """Spending $5 at a time: one alert at 50%, 80% and 100%, each with its severity."""
    alerts = Collected()
    watch = SpendWatch(Rates("USD", 0), None, alerts)
    for spent in range(0, 50_000_000, 5_000_000):
        watch(use(spent, 5_000_000), 1000.0)
    assert [(a.title, a.severity) for a in alerts.alerts] == [
        ("Daily budget for KG at 50%", Severity.INFO),
        ("Daily budget for KG at 80%", Severity.WARNING),
        ("Daily budget for KG reached", Severity.CRITICAL),
    ]
    reached = alerts.alerts[-1]
    assert reached.summary == "$50.00 of $50.00 spent (2026-12-03): messages are refused"
    assert (reached.key, reached.link_path) == (
        "budget:budget-kg:KG:2026-12-03:100",
        "/dashboard/spend",
    )


def test_a_jump_over_two_thresholds_alerts_the_higher() -> None:
    """From 40% to 90% in one message: the 80% alert, not the 50% one."""
    alerts = Collected()
    SpendWatch(Rates("USD", 0), None, alerts)(use(20_000_000, 25_000_000), 0.0)
    assert [a.title for a in alerts.alerts] == ["Daily budget for KG at 80%"]


def test_a_refusal_is_the_budget_reached() -> None:
    """A message the budget refused raises the 100% incident (the same key every time)."""
    alerts = Collected()
    SpendWatch(Rates("USD", 0), None, alerts)(use(49_990_000, 70_000, refused=True), 0.0)
    assert [a.key for a in alerts.alerts] == ["budget:budget-kg:KG:2026-12-03:100"]


def test_the_gauge_is_the_share_spent() -> None:
    """smsguard_budget_used_ratio is spend after this message over the budget."""
    metrics = Metrics()
    SpendWatch(Rates("USD", 0), metrics, None)(use(10_000_000, 5_000_000), 0.0)
    assert metrics.budget_used.labels("budget-kg")._value.get() == 0.3


async def test_sent_alerts_are_kept_newest_first(redis_url: str) -> None:
    """The dispatcher's short list of sent alerts keeps the newest first, with their status."""
    redis = Redis.from_url(redis_url)
    incidents = RedisIncidents(redis, keep_s=3600)
    alert = SpendWatch(Rates("USD", 0), None, None).alert(
        use(0, 25_000_000), 50, Severity.INFO, 25_000_000, 10.0
    )
    await incidents.remember(alert, 10.0)
    await incidents.remember(alert.resolved(20.0), 20.0)
    listed = await sent_alerts(redis)
    await redis.aclose()
    assert [(a["status"], a["at"]) for a in listed] == [("resolved", 20.0), ("firing", 10.0)]
    assert listed[1]["title"] == "Daily budget for KG at 50%"
