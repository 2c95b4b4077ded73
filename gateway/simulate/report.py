"""Counts per scenario, the two rates that matter, and the money, as a table or JSON.

- attack blocked % = attack messages not sent (refused or dropped) / attack messages answered
- legit blocked %  = the same for legitimate messages (collateral damage)
- attack spend avoided = the price of every attack message not sent; attack spend = those sent
- legit collateral = legitimate messages not sent, and users who never received a code
Requests that errored or were skipped by the duration limit count in neither rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gateway.prices import PriceTable
from gateway.simulate.generate import SCENARIOS
from gateway.simulate.runner import Result

STOPPED = ("blocked", "dropped")
COLUMNS = ("requests", "sent", "blocked", "dropped", "accepted", "errors", "skipped")


@dataclass
class ScenarioCounts:
    label: str
    requests: int = 0
    sent: int = 0
    blocked: int = 0
    dropped: int = 0
    accepted: int = 0  # 200 without a sandbox to tell sent from dropped
    errors: int = 0
    skipped: int = 0
    spend: float = 0.0  # price of the messages sent
    avoided: float = 0.0  # price of the messages not sent
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def answered(self) -> int:
        return self.sent + self.blocked + self.dropped + self.accepted

    @property
    def stopped(self) -> int:
        return self.blocked + self.dropped


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


@dataclass
class Report:
    scenarios: dict[str, ScenarioCounts]
    currency: str
    verified: bool
    legit_users: int
    legit_users_without_code: int
    note: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def total(self, label: str) -> ScenarioCounts:
        out = ScenarioCounts(label)
        for counts in self.scenarios.values():
            if counts.label != label:
                continue
            for name in (*COLUMNS, "spend", "avoided"):
                setattr(out, name, getattr(out, name) + getattr(counts, name))
            out.rules.update(counts.rules)
        return out

    @property
    def attack_blocked_pct(self) -> float | None:
        attack = self.total("attack")
        return _pct(attack.stopped, attack.answered)

    @property
    def legit_blocked_pct(self) -> float | None:
        legit = self.total("legit")
        return _pct(legit.stopped, legit.answered)

    def as_json(self) -> dict[str, Any]:
        attack, legit = self.total("attack"), self.total("legit")
        return {
            "verified": self.verified,
            "note": self.note,
            "currency": self.currency,
            "attack_blocked_pct": self.attack_blocked_pct,
            "legit_blocked_pct": self.legit_blocked_pct,
            "attack_spend_avoided": round(attack.avoided, 4),
            "attack_spend": round(attack.spend, 4),
            "legit_messages_not_sent": legit.stopped,
            "legit_value_not_sent": round(legit.avoided, 4),
            "legit_users": self.legit_users,
            "legit_users_without_code": self.legit_users_without_code,
            "scenarios": {
                name: {
                    "label": c.label,
                    **{col: getattr(c, col) for col in COLUMNS},
                    "stopped_pct": _pct(c.stopped, c.answered),
                    "spend": round(c.spend, 4),
                    "avoided": round(c.avoided, 4),
                    "rules": dict(c.rules.most_common()),
                }
                for name, c in self.scenarios.items()
            },
            **self.meta,
        }

    def as_text(self) -> str:
        cur = self.currency
        head = f"{'scenario':<14}{'label':<7}" + "".join(f"{c:>9}" for c in COLUMNS)
        head += f"{'stopped':>9}{'avoided':>11}"
        lines = [head, "-" * len(head)]
        rows = [*self.scenarios.values(), self.total("attack"), self.total("legit")]
        names = [*self.scenarios, "all attack", "all legit"]
        for name, c in zip(names, rows, strict=True):
            pct = _pct(c.stopped, c.answered)
            lines.append(
                f"{name:<14}{c.label:<7}"
                + "".join(f"{getattr(c, col):>9}" for col in COLUMNS)
                + f"{_fmt_pct(pct):>9}{c.avoided:>11.2f}"
            )
        attack, legit = self.total("attack"), self.total("legit")
        lines += [
            "",
            f"attack blocked: {_fmt_pct(self.attack_blocked_pct)} "
            f"({attack.stopped} of {attack.answered} answered attack messages not sent)",
            f"legit blocked:  {_fmt_pct(self.legit_blocked_pct)} "
            f"({legit.stopped} of {legit.answered}); users who never got a code: "
            f"{self.legit_users_without_code} of {self.legit_users}",
            f"money: attack spend avoided {attack.avoided:.2f} {cur}, attack spend still sent "
            f"{attack.spend:.2f} {cur}, legitimate messages not sent worth "
            f"{legit.avoided:.2f} {cur}",
        ]
        rules = (attack.rules + legit.rules).most_common()
        if rules:
            lines.append("refusing rules (attack/legit): " + ", ".join(
                f"{rule} {attack.rules[rule]}/{legit.rules[rule]}" for rule, _ in rules
            ))  # fmt: skip
        if self.meta.get("rules"):
            lines.append(f"rules: {self.meta['rules']}")
        if not self.verified:
            lines.append(
                "NOTE: sent and dropped are not told apart: " + (self.note or "no sandbox")
            )
        return "\n".join(lines)


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def build_report(
    results: list[Result], prices: PriceTable, *, verified: bool, note: str | None = None
) -> Report:
    scenarios: dict[str, ScenarioCounts] = {}
    users: dict[str, bool] = {}  # legit user -> got at least one code
    for name in SCENARIOS:
        labels = {r.request.label for r in results if r.request.scenario == name}
        if labels:
            scenarios[name] = ScenarioCounts(labels.pop())
    for result in results:
        req = result.request
        counts = scenarios[req.scenario]
        counts.requests += 1
        outcome = result.outcome
        column = "errors" if outcome == "error" else outcome
        setattr(counts, column, getattr(counts, column) + 1)
        price = prices.price(req.country)
        if outcome in ("sent", "accepted"):
            counts.spend += price
        elif outcome in STOPPED:
            counts.avoided += price
            counts.rules[result.rule or ("(drop)" if outcome == "dropped" else "(unnamed)")] += 1
        if req.label == "legit" and outcome != "skipped":
            users[req.actor] = users.get(req.actor, False) or outcome in ("sent", "accepted")
    return Report(
        scenarios=scenarios,
        currency=prices.currency,
        verified=verified,
        legit_users=len(users),
        legit_users_without_code=sum(1 for got in users.values() if not got),
        note=note,
    )
