"""How velocity keys show their values in reasons: long phone prefixes are masked."""

from __future__ import annotations

from gateway.policy.loader import KeyPart
from gateway.signals import Signals


def _none(_: Signals) -> str | None:
    return None


def test_a_long_prefix_value_is_shown_masked() -> None:
    """phone.prefix:15 / national_prefix:N values over 8 digits are masked; shorter ones not."""
    assert KeyPart("prefix 15 digits", _none).show("447700900123") == (
        "prefix 15 digits 44*******123"
    )
    assert "7700900123" not in KeyPart("national prefix 14 digits", _none).show("7700900123")
    assert KeyPart("prefix 8 digits", _none).show("44770090") == "prefix 8 digits 44770090"
