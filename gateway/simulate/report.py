"""What one scenario run did to real users and to the attacker, and the tables across runs.

Real users (counted per user, not per message):
- refused = users with at least one message to their own number refused or silently dropped (a
  code to a number they mistyped is meant to be refused and is not counted);
- without a code = users whose own number never received one;
- per country (of their number; countries with >= 1% of the run's users) and per kind of user.
Attack:
- refused % = attack messages not sent (blocked or dropped) / attack messages answered;
- most sent per burst = the largest number of messages one burst or campaign got sent;
- spend = the price of what was sent; without the gateway it would have been the price of every
  request; reduction = 1 - spend / that. Prices per destination country (`gateway.prices`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from gateway.prices import PriceTable
from gateway.simulate.generate import USER_KINDS
from gateway.simulate.runner import Result

MIN_COUNTRY_SHARE = 0.01


def _pct(part: int | float, whole: int | float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}%"


@dataclass
class Share:
    """`refused` of `total` (users, or messages)."""

    total: int = 0
    refused: int = 0

    @property
    def pct(self) -> float | None:
        return _pct(self.refused, self.total)

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "refused": self.refused, "pct": self.pct}


@dataclass
class RunReport:
    scenario: str
    seed: int
    currency: str
    users: Share = field(default_factory=Share)
    users_without_code: int = 0
    legit_messages: Share = field(default_factory=Share)
    countries: dict[str, Share] = field(default_factory=dict)
    kinds: dict[str, Share] = field(default_factory=dict)
    attack: Share = field(default_factory=Share)  # messages
    attack_sent: int = 0
    max_sent_per_burst: int = 0
    spend: float = 0.0
    spend_without_gateway: float = 0.0
    errors: int = 0
    rules: dict[str, Counter[str]] = field(default_factory=dict)  # label -> rule -> count
    completions: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def spend_reduction_pct(self) -> float | None:
        saved = self.spend_without_gateway - self.spend
        return _pct(saved, self.spend_without_gateway)

    @property
    def worst_country(self) -> tuple[str, Share] | None:
        if not self.countries:
            return None
        return max(self.countries.items(), key=lambda item: (item[1].pct or 0.0, item[1].total))

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "real_users": self.users.as_json(),
            "real_users_without_code": self.users_without_code,
            "real_messages": self.legit_messages.as_json(),
            "real_users_by_country": {c: s.as_json() for c, s in self.countries.items()},
            "real_users_by_kind": {k: s.as_json() for k, s in self.kinds.items()},
            "attack_messages": self.attack.as_json(),
            "attack_sent": self.attack_sent,
            "attack_max_sent_per_burst": self.max_sent_per_burst,
            "currency": self.currency,
            "attack_spend": round(self.spend, 4),
            "attack_spend_without_gateway": round(self.spend_without_gateway, 4),
            "attack_spend_reduction_pct": self.spend_reduction_pct,
            "errors": self.errors,
            "refusing_rules": {label: dict(c.most_common()) for label, c in self.rules.items()},
            "completions": self.completions,
            **self.meta,
        }

    def as_text(self) -> str:
        cur = self.currency
        lines = [
            f"== {self.scenario}, seed {self.seed}",
            f"real users refused: {_fmt(self.users.pct, 2)} ({self.users.refused} of "
            f"{self.users.total}); without any code: {self.users_without_code}; messages "
            f"refused: {self.legit_messages.refused} of {self.legit_messages.total}",
            "  by country: "
            + ", ".join(
                f"{c} {_fmt(s.pct)} ({s.refused}/{s.total})" for c, s in self.countries.items()
            ),
            "  by kind: "
            + ", ".join(
                f"{k} {_fmt(s.pct)} ({s.refused}/{s.total})" for k, s in self.kinds.items()
            ),
        ]
        if self.attack.total:
            lines += [
                f"attack refused: {_fmt(self.attack.pct)} ({self.attack.refused} of "
                f"{self.attack.total}); sent {self.attack_sent}, at most "
                f"{self.max_sent_per_burst} per burst",
                f"attack spend: {self.spend:.2f} {cur} instead of "
                f"{self.spend_without_gateway:.2f} {cur} "
                f"(reduced {_fmt(self.spend_reduction_pct)})",
            ]
        for label, counts in sorted(self.rules.items()):
            if counts:
                lines.append(
                    f"refusing rules ({label}): "
                    + ", ".join(f"{rule} {n}" for rule, n in counts.most_common())
                )
        lines.append(
            f"completions: {self.completions.get('events', 0)} log events, "
            f"{self.completions.get('delivered', 0)} delivered"
            + (f" ({self.completions['note']})" if self.completions.get("note") else "")
            + "".join(
                f", {name} {count}"
                for name, count in (self.completions.get("endpoint_answers") or {}).items()
            )
        )
        if self.errors:
            lines.append(f"errors: {self.errors} requests got no decision")
        return "\n".join(lines)


def build_report(scenario: str, seed: int, results: list[Result], prices: PriceTable) -> RunReport:
    report = RunReport(scenario, seed, prices.currency)
    refused_users: set[str] = set()
    got_code: set[str] = set()
    user_country: dict[str, str] = {}
    user_kinds: dict[str, tuple[str, ...]] = {}
    per_actor_sent: Counter[str] = Counter()
    report.rules = {"legit": Counter(), "attack": Counter()}
    for result in results:
        req, outcome = result.request, result.outcome
        if outcome == "error":
            report.errors += 1
            continue
        stopped = outcome in ("blocked", "dropped")
        if stopped:
            rule = result.rule or ("(drop)" if outcome == "dropped" else "(unnamed)")
            report.rules[req.label][rule] += 1
        if req.label == "attack":
            price = prices.price(req.country)
            report.attack.total += 1
            report.spend_without_gateway += price
            if stopped:
                report.attack.refused += 1
            else:
                report.attack_sent += 1
                report.spend += price
                per_actor_sent[req.actor] += 1
            continue
        if req.wrong_number:
            continue
        user_country.setdefault(req.actor, req.country or "??")
        user_kinds.setdefault(req.actor, req.kinds)
        report.legit_messages.total += 1
        if stopped:
            report.legit_messages.refused += 1
            refused_users.add(req.actor)
        else:
            got_code.add(req.actor)
    report.max_sent_per_burst = max(per_actor_sent.values(), default=0)
    report.users = Share(len(user_country), len(refused_users))
    report.users_without_code = len(set(user_country) - got_code)
    by_country: dict[str, Share] = defaultdict(Share)
    by_kind: dict[str, Share] = defaultdict(Share)
    for actor, country in user_country.items():
        refused = actor in refused_users
        by_country[country].total += 1
        by_country[country].refused += refused
        for kind in user_kinds[actor]:
            by_kind[kind].total += 1
            by_kind[kind].refused += refused
    floor = MIN_COUNTRY_SHARE * len(user_country)
    report.countries = {
        c: s
        for c, s in sorted(by_country.items(), key=lambda item: -item[1].total)
        if s.total >= floor
    }
    report.kinds = {k: by_kind[k] for k in USER_KINDS if k in by_kind}
    return report


def markdown(reports: list[RunReport]) -> str:
    """Tables for the README: one row per scenario and seed; then users by kind and country."""
    kinds = [k for k in USER_KINDS if any(k in r.kinds for r in reports)]
    lines = [
        "| scenario | seed | real users refused | worst country (>= 1% of users) | attack "
        "refused | most sent by one burst or campaign | attack spend | spend reduction |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in reports:
        worst = r.worst_country
        worst_text = f"{worst[0]} {_fmt(worst[1].pct)}" if worst else "-"
        attack = r.attack.total > 0
        lines.append(
            f"| `{r.scenario}` | {r.seed} | {_fmt(r.users.pct, 2)} ({r.users.refused}/"
            f"{r.users.total}) | {worst_text} | "
            + (
                f"{_fmt(r.attack.pct)} | {r.max_sent_per_burst} | "
                f"{r.spend:.2f} of {r.spend_without_gateway:.2f} {r.currency} | "
                f"{_fmt(r.spend_reduction_pct)} |"
                if attack
                else "- | - | - | - |"
            )
        )
    lines += [
        "",
        "| scenario | seed | " + " | ".join(kinds) + " |",
        "|---|---:|" + "---:|" * len(kinds),
    ]
    for r in reports:
        cells = [
            f"{_fmt(r.kinds[k].pct)} ({r.kinds[k].refused}/{r.kinds[k].total})"
            if k in r.kinds
            else "-"
            for k in kinds
        ]
        lines.append(f"| `{r.scenario}` | {r.seed} | " + " | ".join(cells) + " |")
    # Countries where any run refused anyone: the others are 0% everywhere.
    hit = sorted({c for r in reports for c, s in r.countries.items() if s.refused})
    if hit:
        lines += [
            "",
            "| scenario | seed | " + " | ".join(hit) + " |",
            "|---|---:|" + "---:|" * len(hit),
        ]
        for r in reports:
            cells = [_fmt(r.countries[c].pct) if c in r.countries else "-" for c in hit]
            lines.append(f"| `{r.scenario}` | {r.seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
