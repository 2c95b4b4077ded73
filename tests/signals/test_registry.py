"""The signal registry is complete: every declared signal is usable, documented, stored, shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web

from gateway.dashboard.eventsearch import SIGNAL_COLUMNS, EventFilter, EventPage
from gateway.dashboard.export import CSV_COLUMNS, iso
from gateway.events import DIMENSIONS, build_event
from gateway.events.schema import DecisionEvent, Outcome
from gateway.logs import PhoneHasher
from gateway.policy.conditions import Condition
from gateway.policy.loader import load_rules
from gateway.policy.testing import override_signals
from gateway.signals import Signals
from gateway.signals.registry import SIGNALS, Shown, Stored, resolve, state
from gateway.web import setup_templates
from tests.policy.helpers import BASE, sms, write_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def _condition(tmp_path: Path, condition: str) -> Condition:
    write_rules(
        tmp_path,
        {
            "10-a.yaml": f"rules:\n  - id: r\n    description: d\n    conditions: {condition}\n"
            "    action: block\n"
        },
    )
    loaded = load_rules(tmp_path).rules[0].condition
    assert loaded is not None
    return loaded


def _event(signals: Signals = BASE) -> DecisionEvent:
    return build_event(
        sms(),
        signals,
        None,
        Outcome("sent", 200),
        hasher=PhoneHasher(b"k" * 32),
        prefix_digits=6,
    )


@pytest.mark.parametrize("name", list(SIGNALS))
def test_every_declared_signal_can_be_named_in_a_rule(tmp_path: Path, name: str) -> None:
    """A rule `{signal: NAME, known: true}` loads for every declared signal, and reads it."""
    digits = ", digits: 6" if name == "phone.prefix" else ""
    condition = _condition(tmp_path, f"{{signal: {name}, known: true{digits}}}")
    spec = resolve(name)
    assert spec is not None
    assert condition.matches(BASE) is (spec.get(BASE) is not None)


def test_every_declared_signal_is_in_the_readme_signal_reference() -> None:
    """The README's signal reference table has one row per declared signal, and no other."""
    text = README.read_text(encoding="utf-8")
    table = text.split("### Signal reference", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| `([\w.{},]+)` \|", table, flags=re.MULTILINE)
    documented = {name for row in rows for name in _expand(row)}
    assert documented == set(SIGNALS)


def _expand(row: str) -> list[str]:
    """`a.{b,c}.{1h,24h}` -> every combination (a family of signals on one row)."""
    m = re.search(r"\{([^}]*)\}", row)
    if m is None:
        return [row]
    return [
        name
        for choice in m.group(1).split(",")
        for name in _expand(row[: m.start()] + choice + row[m.end() :])
    ]


def test_every_stored_signal_is_kept_in_the_event_under_its_field() -> None:
    """Each signal declared `Stored` is in the event (and its JSON) under the declared field."""
    event = _event()
    stored = DecisionEvent.from_json(event.to_json())
    for spec in SIGNALS.values():
        if spec.stored is not None:
            assert stored[spec.stored.field] == spec.get(BASE), spec.name
            assert spec.stored.field in CSV_COLUMNS, spec.name


def test_every_shown_signal_is_on_the_events_page_as_declared() -> None:
    """Each `Shown` signal has its column (if `table`), formatted value and block button."""
    env = setup_templates(web.Application())
    event = _event()
    event.sid = "1-0"
    html = env.get_template("dashboard/_events_live.html").render(
        page=EventPage([event], None, 1),
        signal_columns=SIGNAL_COLUMNS,
        iso=iso,
        csrf="t",
        path="/dashboard/events",
        path_qs="/dashboard/events",
    )
    shown = [(spec, spec.shown) for spec in SIGNALS.values() if spec.shown is not None]
    assert shown
    for spec, how in shown:
        assert spec.stored is not None, f"{spec.name} is shown but not stored"
        value = how.format.format(spec.get(BASE))
        assert (f"<th>{how.heading}</th>" in html) is how.table, spec.name
        if how.table:
            assert f"<td>{value}</td>" in html, spec.name
        if how.block:
            assert f'data-block="{how.block}:{spec.get(BASE)}"' in html, spec.name
        if how.top:
            assert DIMENSIONS[how.top] == spec.stored.field, spec.name


def test_a_signal_filter_is_declared_by_the_registry() -> None:
    """The events page filters on exactly the signals declared `Shown(filter=True)`."""
    declared = {s.stored.field for s in SIGNALS.values() if s.shown and s.shown.filter and s.stored}
    flt = EventFilter.from_query(dict.fromkeys(declared, "gb") | {"unknown_field": "x"})
    assert set(flt.signals) == declared
    assert flt.matches(_event()) is True


def test_a_signal_read_from_request_time_state_needs_no_special_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `state` signal (set by a later stage) works in rules, rule tests, events and the page."""
    spec = state(
        "recipient.verified",
        "bool",
        "the recipient completed a login before",
        Stored("verified"),
        Shown("Verified", filter=True),
    )
    monkeypatch.setitem(SIGNALS, spec.name, spec)
    condition = _condition(tmp_path, "{signal: recipient.verified, equals: true}")
    verified = BASE.with_state({"recipient.verified": True})
    assert condition.matches(verified) is True
    assert condition.matches(BASE) is False
    assert override_signals(BASE, {"recipient.verified": True}) == verified
    assert _event(verified)["verified"] is True
