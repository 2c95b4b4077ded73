"""The `budget:` rule kind in YAML: what loads, and every mistake named with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy.loader import load_rules
from gateway.spend.rates import Rates
from tests.policy.helpers import write_rules
from tests.policy.test_loader import problems

KG_DAILY = """
rules:
  - id: budget-kg
    description: SMS to Kyrgyzstan
    conditions: {signal: phone.country, in: [KG]}
    budget: {key: country, max: 50.00, per: day, timezone: Asia/Bishkek,
             exempt: verified_recipients}
    action: block
"""


def test_a_daily_country_budget_loads(tmp_path: Path) -> None:
    """A budget rule loads with its key, amount in micro-units, period, zone and exemption."""
    write_rules(tmp_path, {"10-budgets.yaml": KG_DAILY})
    rule = load_rules(tmp_path).rules[0]
    assert rule.budget is not None
    budget = rule.budget
    assert (budget.key, budget.max_micros, budget.period.kind) == ("country", 50_000_000, "day")
    assert (budget.period.timezone, budget.exempt_verified, rule.status) == (
        "Asia/Bishkek",
        True,
        429,
    )


@pytest.mark.parametrize(
    ("budget", "described"),
    [
        ("{max: 1000, per: day}", "global: $1,000.00 daily (UTC)"),
        ("{key: route, max: 200, per: hour}", "route: $200.00 hourly (UTC)"),
        ("{key: 'prefix:6', max: 5, per: 24h}", "prefix:6: $5.00 rolling 24 h"),
    ],
)
def test_every_key_and_period_loads(tmp_path: Path, budget: str, described: str) -> None:
    """Overall, route and number-range budgets, calendar or rolling, load as written."""
    text = f"rules:\n  - id: b\n    description: d\n    budget: {budget}\n    action: block\n"
    write_rules(tmp_path, {"10-b.yaml": text})
    rule = load_rules(tmp_path).rules[0]
    assert rule.budget is not None
    assert rule.budget.describe(Rates("USD", 0)) == described


def test_budget_mistakes_are_all_named_with_their_line(tmp_path: Path) -> None:
    """Bad key, amount, period, zone and exemption: each reported at its line."""
    write_rules(
        tmp_path,
        {
            "10-b.yaml": """
rules:
  - id: b
    description: d
    budget:
      key: asn
      max: -5
      per: week
      timezone: Mars/Olympus
      exempt: friends
    action: block
"""
        },
    )
    found = problems(tmp_path)
    assert len(found) == 5
    for line, words in [(5, "key"), (6, "max"), (7, "per"), (8, "timezone"), (9, "exempt")]:
        assert any(f"10-b.yaml:{line}:" in p and words in p for p in found), (line, found)


def test_a_budget_cannot_allow(tmp_path: Path) -> None:
    """A budget acts when reached: action allow is refused."""
    text = KG_DAILY.replace("action: block", "action: allow")
    write_rules(tmp_path, {"10-b.yaml": text})
    assert any("budget rule acts when its budget is reached" in p for p in problems(tmp_path))


def test_budget_and_velocity_in_one_rule_are_refused(tmp_path: Path) -> None:
    """A rule counts money or events, not both."""
    text = KG_DAILY.replace(
        "    action: block",
        "    velocity: {key: recipient, limits: [{max: 1, per: 1m}]}\n    action: block",
    )
    write_rules(tmp_path, {"10-b.yaml": text})
    assert any("not both" in p for p in problems(tmp_path))
