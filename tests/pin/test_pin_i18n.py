"""The PIN page's message catalogue and language choice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.pin import i18n
from gateway.pin.i18n import MESSAGES, Translator, pick_language

POLICY_SOURCE = Path(i18n.__file__).with_name("policy.py").read_text()
PAGES_SOURCE = Path(i18n.__file__).with_name("pages.py").read_text()


def test_every_refusal_code_has_a_message() -> None:
    """Each Refusal("code") the policy (or the pages) can return has an err_<code> message."""
    codes = set(re.findall(r'Refusal\("(\w+)"', POLICY_SOURCE + PAGES_SOURCE))
    codes.add("same_as_old")
    assert codes
    missing = sorted(c for c in codes if f"err_{c}" not in MESSAGES["en"])
    assert missing == []


@pytest.mark.parametrize(
    ("ui_locales", "accept", "expected"),
    [
        ("fr-CA en", None, "en"),
        (None, "de-DE,de;q=0.9,en;q=0.3", "en"),
        (None, None, "en"),
        (None, "en-GB", "en"),
    ],
)
def test_language_choice(ui_locales: str | None, accept: str | None, expected: str) -> None:
    """ui_locales first, then Accept-Language by weight; unsupported ones fall back to English."""
    assert pick_language(ui_locales, accept) == expected


def test_added_language_is_used_and_falls_back_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new catalogue is picked by its tag; keys it lacks come from English."""
    monkeypatch.setitem(MESSAGES, "fr", {"title_verify": "Saisissez votre code"})
    assert pick_language(None, "fr-FR,en;q=0.5") == "fr"
    t = Translator("fr")
    assert t("title_verify") == "Saisissez votre code"
    assert t("label_pin") == "PIN"
