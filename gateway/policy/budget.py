"""The `budget:` rule kind: a money ceiling per country, number range, provider route or overall.

```yaml
- id: budget-kg-daily
  description: SMS to Kyrgyzstan
  conditions: {signal: phone.country, in: [KG]}   # optional: which messages this budget counts
  budget:
    key: country                  # country | prefix:N | route | global (default global)
    max: 50.00                    # in the price table's currency
    per: day                      # hour | day (calendar, in `timezone`) | 24h, 90m ... (rolling)
    timezone: Asia/Bishkek        # IANA zone of the calendar; default UTC
    exempt: verified_recipients   # optional: recipients the feedback marks verified are not counted
  action: block
```

A message is counted at its real cost (segments of its body x its country's price, see
gateway/spend) and reserved at decision time in the same Redis script as the velocity counters; it
is given back when every provider failed (`count: sent` semantics). A message whose cost would take
the spend over `max` is refused with the rule's id and "daily budget for KG reached: $49.99 of
$50.00". Shadow mode records "would have blocked" and counts nothing against the budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.policy.conditions import ParseContext
from gateway.signals import Signals
from gateway.signals.registry import SIGNALS
from gateway.spend.counters import budget_spec, release_handle
from gateway.spend.money import MICROS, to_micros
from gateway.spend.periods import Period, Window
from gateway.spend.rates import Cost, Rates
from gateway.velocity import CounterCheck, CounterKeys

BUDGET_KEYS = ("key", "max", "per", "timezone", "exempt")
EXEMPTIONS = ("verified_recipients",)
# The signal the feedback stage sets for a recipient who completed a login before (a state
# declared in gateway/signals/registry.py); absent means not verified.
VERIFIED_SIGNAL = "recipient.verified"
_ROLLING = re.compile(r"^(\d+)\s*(m|h|d)$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
KeyKind = Literal["global", "country", "prefix", "route"]
RouteOf = Callable[[str | None], str]
_PLAIN_KEYS: dict[str, KeyKind] = {"global": "global", "country": "country", "route": "route"}


@dataclass(frozen=True)
class BudgetUse:
    """One message admitted under a budget: what it was spent before, and what it adds."""

    rule_id: str
    value: str  # what it counts under: "KG", "twilio", "996555", "" (overall)
    subject: str  # "for KG", "overall"
    period: str  # "daily"
    spent: int  # micro-units before this message
    cost: int
    max_micros: int
    window: Window
    refused: bool = False  # this message was refused: the budget is reached


@dataclass(frozen=True)
class BudgetPricing:
    """What budgets need at decision time: the rates, the provider route of a country, and who
    hears of each admitted message (metrics and alerts, gateway/spend/watch.py)."""

    rates: Rates
    route_of: RouteOf
    on_use: Callable[[BudgetUse, float], None] | None = None


@dataclass(frozen=True)
class BudgetHit:
    """A budget's counter for one message: what it counts under, the cost, the Redis check."""

    rule_id: str
    budget: Budget
    value: str
    cost: Cost
    window: Window
    check: CounterCheck
    rates: Rates

    @property
    def handle(self) -> str:
        return release_handle(self.check.key, self.cost.micros, self.window)

    def show(self, spent: int) -> str:
        """`KG daily: $0.40 of $1.00 spent, this message $0.05 (2 segments UCS-2)`."""
        b, c = self.budget, self.cost
        return (
            f"{b.subject(self.value)} {b.period.adjective}: {self.rates.show(spent)} of "
            f"{self.rates.show(b.max_micros)} spent, this message {self.rates.show(c.micros)} "
            f"({c.segments.segments} segment{'s' if c.segments.segments > 1 else ''} "
            f"{c.segments.encoding})"
        )

    def reason(self, spent: int) -> str:
        return self.budget.reason(self.value, spent, self.rates)

    def use(self, spent: int, *, refused: bool = False) -> BudgetUse:
        b = self.budget
        return BudgetUse(
            self.rule_id,
            self.value,
            b.subject(self.value),
            b.period.adjective,
            spent,
            self.cost.micros,
            b.max_micros,
            self.window,
            refused,
        )


@dataclass(frozen=True)
class Budget:
    key: KeyKind
    digits: int  # for key: prefix
    max_micros: int
    period: Period
    exempt_verified: bool

    def value(self, signals: Signals, route_of: RouteOf) -> str | None:
        """What this message counts under (None: an unknown country or number, not counted)."""
        if self.key == "global":
            return ""
        if self.key == "country":
            return signals.phone_country or None
        if self.key == "prefix":
            digits = signals.e164.lstrip("+")
            return digits[: self.digits] if len(digits) >= self.digits else None
        return route_of(signals.phone_country) or None

    def exempt(self, signals: Signals) -> bool:
        return self.exempt_verified and SIGNALS[VERIFIED_SIGNAL].get(signals) is True

    def subject(self, value: str) -> str:
        """`for KG`, `for prefix 996555`, `for route twilio`, `overall`: what the budget caps."""
        if self.key == "global":
            return "overall"
        if self.key == "prefix":
            return f"for prefix {value}"
        if self.key == "route":
            return f"for route {value}"
        return f"for {value}"

    def hit(
        self,
        rule_id: str,
        final: bool,
        body: str,
        signals: Signals,
        now: float,
        keys: CounterKeys,
        pricing: BudgetPricing,
    ) -> BudgetHit | None:
        """This message's counter, or None when the budget does not count it (exempt, unknown)."""
        if self.exempt(signals):
            return None
        value = self.value(signals, pricing.route_of)
        if value is None:
            return None
        cost = pricing.rates.cost(body, signals.phone_country)
        window = self.period.window(now)
        spec = budget_spec(window, self.max_micros, cost.micros, final=final)
        key = keys.key(rule_id, [value, window.name])
        check = CounterCheck(key, (), final, reserve=True, longest=window.ttl_ms // 1000, spec=spec)
        return BudgetHit(rule_id, self, value, cost, window, check, pricing.rates)

    def reason(self, value: str, spent: int, rates: Rates) -> str:
        """The plain refusal: "daily budget for KG reached: $50.00 of $50.00"."""
        return (
            f"{self.period.adjective} budget {self.subject(value)} reached: "
            f"{rates.show(spent)} of {rates.show(self.max_micros)}"
        )

    def describe(self, rates: Rates | None = None) -> str:
        """One line for the dashboard's rule list: `country: $50.00 daily (Asia/Bishkek)`."""
        amount = (
            rates.show(self.max_micros) if rates is not None else f"{self.max_micros / MICROS:g}"
        )
        key = f"prefix:{self.digits}" if self.key == "prefix" else self.key
        zone = f" ({self.period.timezone})" if self.period.kind != "rolling" else ""
        exempt = ", verified recipients exempt" if self.exempt_verified else ""
        return f"{key}: {amount} {self.period.adjective}{zone}{exempt}"


def parse_budget(raw: Any, ctx: ParseContext, path: tuple[str | int, ...]) -> Budget | None:
    """A rule's `budget:` section; every problem is reported with its location."""
    if not isinstance(raw, dict):
        ctx.error(path, "`budget` is {key: country, max: 50.00, per: day}")
        return None
    before = len(ctx.problems)
    for k in raw:
        if k not in BUDGET_KEYS:
            ctx.error((*path, k), f"unknown key {k!r} (allowed: {', '.join(BUDGET_KEYS)})")
    key, digits = _parse_key(raw.get("key", "global"), ctx, (*path, "key"))
    max_micros = to_micros(raw.get("max"))
    if max_micros is None or max_micros == 0 or isinstance(raw.get("max"), bool):
        ctx.error(
            (*path, "max") if "max" in raw else path,
            f"`max` is an amount above zero with at most 6 decimals, not {raw.get('max')!r}",
        )
    zone = raw.get("timezone", "UTC")
    if not isinstance(zone, str) or not _zone_ok(zone):
        ctx.error((*path, "timezone"), f"`timezone` is an IANA time zone name, not {zone!r}")
        zone = "UTC"
    period = _parse_period(raw.get("per"), str(zone), ctx, path, "per" in raw)
    exempt = raw.get("exempt", [])
    exempt_list = [exempt] if isinstance(exempt, str) else exempt
    if not isinstance(exempt_list, list) or any(e not in EXEMPTIONS for e in exempt_list):
        ctx.error((*path, "exempt"), f"`exempt` is one of {', '.join(EXEMPTIONS)}, not {exempt!r}")
        exempt_list = []
    if len(ctx.problems) > before or key is None or period is None or max_micros is None:
        return None
    return Budget(key, digits, max_micros, period, "verified_recipients" in exempt_list)


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse_key(
    raw: Any, ctx: ParseContext, path: Sequence[str | int]
) -> tuple[KeyKind | None, int]:
    text = str(raw)
    if text in _PLAIN_KEYS:
        return _PLAIN_KEYS[text], 0
    if text.startswith(("prefix:", "phone.prefix:")):
        digits = text.split(":", 1)[1]
        if digits.isdigit() and 1 <= int(digits) <= 15:
            return "prefix", int(digits)
    ctx.error(path, f"budget `key` is global, country, route or prefix:N (1-15), not {raw!r}")
    return None, 0


def _parse_period(
    raw: Any, zone: str, ctx: ParseContext, path: tuple[str | int, ...], given: bool
) -> Period | None:
    if raw in ("hour", "day"):
        return Period(raw, 3600 if raw == "hour" else 86400, zone)
    m = _ROLLING.match(str(raw).strip()) if raw is not None else None
    if m and 0 < int(m.group(1)) * _UNITS[m.group(2)] <= 7 * 86400:
        return Period("rolling", int(m.group(1)) * _UNITS[m.group(2)], zone)
    ctx.error(
        (*path, "per") if given else path,
        f"`per` is hour, day (calendar) or a rolling duration like 24h, 90m (at most 7d), "
        f"not {raw!r}",
    )
    return None
