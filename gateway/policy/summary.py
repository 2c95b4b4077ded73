"""What the dashboard shows of the running rule set, typed: the engine's `summary()` and
`rule_info()` build these from its RuleSet, so no reader picks attributes by name."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.policy.loader import RuleSet, format_duration
from gateway.spend.rates import Rates


@dataclass(frozen=True)
class RuleInfo:
    """What the dashboard shows about one rule."""

    id: str
    description: str
    action: str
    mode: str
    status: int
    file: str
    velocity: str  # "" or "recipient: 5/10m, 20/24h (attempts)" or "budget country: $50.00 daily"


@dataclass(frozen=True)
class PolicySummary:
    """What the dashboard's Rules page shows about the running rule set."""

    version: str
    loaded_at: float
    files: tuple[str, ...]
    default: str
    rules: list[RuleInfo]
    last_error: str | None  # a refused reload: every problem with file:line
    last_error_at: float | None


def describe_rules(rules: RuleSet, rates: Rates | None = None) -> list[RuleInfo]:
    """Each rule of the set, in order, with its file:line and its limits (or budget) in words."""
    out = []
    for r in rules.rules:
        vel = ""
        if r.velocity is not None:
            key = ", ".join(p.name for p in r.velocity.key) or "global"
            wins = ", ".join(f"{w.limit}/{format_duration(w.seconds)}" for w in r.velocity.windows)
            vel = f"{key}: {wins} ({r.velocity.count})"
        elif r.budget is not None:
            vel = f"budget {r.budget.describe(rates)}"
        out.append(RuleInfo(r.id, r.description, r.action, r.mode, r.status, str(r.location), vel))
    return out
