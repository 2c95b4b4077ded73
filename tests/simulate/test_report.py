"""The report: real users refused per user, country and kind; attack refused, bursts and money."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.prices import shipped_prices
from gateway.simulate.generate import CGNAT, RESIDENT, RISKY_SERVED, SimRequest
from gateway.simulate.report import build_report, markdown
from gateway.simulate.runner import OutcomeName, Result

BASE = SimRequest(
    index=0, at=0.0, label="legit", scenario="legit", actor="user-0", recipient="+447700900001",
    country="GB", number_type="MOBILE", ip="81.2.3.4", ip_country="GB", user_agent=None,
    language=None, code="123456", kinds=(RESIDENT,),
)  # fmt: skip
PRICES = shipped_prices()


def user(actor: str, country: str, outcome: OutcomeName, *kinds: str, **more: object) -> Result:
    req = dataclasses.replace(
        BASE, actor=actor, country=country, kinds=kinds or (RESIDENT,), **more
    )
    return Result(req, outcome, rule="some-rule" if outcome == "blocked" else None)


def attacker(actor: str, country: str, outcome: OutcomeName) -> Result:
    req = dataclasses.replace(BASE, label="attack", scenario="x", actor=actor, country=country)
    return Result(req, outcome, rule="r" if outcome == "blocked" else None)


def test_a_user_refused_once_counts_once() -> None:
    """A user with one refused and one sent message is one refused user, not two messages."""
    report = build_report(
        "x", 1, [user("a", "GB", "blocked"), user("a", "GB", "sent"), user("b", "GB", "sent")],
        PRICES,
    )  # fmt: skip
    assert (report.users.refused, report.users.total, report.users.pct) == (1, 2, 50.0)
    assert (report.legit_messages.refused, report.legit_messages.total) == (1, 3)
    assert report.users_without_code == 0


def test_dropped_counts_as_refused_and_without_code() -> None:
    """A silently dropped code refuses the user; with nothing sent, they got no code."""
    report = build_report("x", 1, [user("a", "GB", "dropped")], PRICES)
    assert report.users.refused == 1
    assert report.users_without_code == 1


def test_mistyped_number_refusal_is_not_a_refused_user() -> None:
    """Refusing a code to a number the user mistyped is not counted against the rules."""
    results = [user("a", "GB", "blocked", wrong_number=True), user("a", "GB", "sent")]
    report = build_report("x", 1, results, PRICES)
    assert (report.users.refused, report.users.total) == (0, 1)


def test_countries_below_one_percent_left_out() -> None:
    """Per country, only countries with at least 1% of the users are listed."""
    results = [user(f"u{i}", "US", "sent") for i in range(150)] + [user("x", "NG", "blocked")]
    report = build_report("x", 1, results, PRICES)
    assert list(report.countries) == ["US"]
    results.append(user("y", "NG", "sent"))
    report = build_report("x", 1, results, PRICES)
    assert report.countries["NG"].pct == 50.0


def test_each_kind_of_a_user_counts_them() -> None:
    """A user with several kinds is counted under each."""
    report = build_report("x", 1, [user("a", "NG", "blocked", CGNAT, RISKY_SERVED)], PRICES)
    assert report.kinds[CGNAT].refused == report.kinds[RISKY_SERVED].refused == 1
    assert RESIDENT not in report.kinds


def test_attack_spend_and_reduction_from_prices() -> None:
    """Spend is the price of what was sent; the reduction compares it with every request."""
    results = [attacker("b1", "UZ", "sent")] + [attacker("b1", "UZ", "blocked")] * 3
    report = build_report("x", 1, results, PRICES)
    price = PRICES.price("UZ")
    assert report.spend == pytest.approx(price)
    assert report.spend_without_gateway == pytest.approx(4 * price)
    assert report.spend_reduction_pct == 75.0
    assert report.attack.pct == 75.0


def test_most_sent_per_burst() -> None:
    """The burst figure is the most messages any one burst got sent."""
    results = [attacker("b1", "UZ", "sent")] * 3 + [attacker("b2", "UZ", "sent")] * 5
    assert build_report("x", 1, results, PRICES).max_sent_per_burst == 5


def test_markdown_has_a_row_per_scenario_and_seed() -> None:
    """The README table has one row per scenario and seed, and a table of users by kind."""
    reports = [
        build_report(name, seed, [user("a", "GB", "sent"), attacker("b", "UZ", "blocked")], PRICES)
        for name in ("one", "two")
        for seed in (1, 2)
    ]
    text = markdown(reports)
    assert sum(line.startswith("| `") for line in text.splitlines()) == 8
    assert "| `two` | 2 | 0.00% (0/1) | GB 0.0% | 100.0% | 0 |" in text
