"""Which PINs may be chosen: length, digits, and no guessable values (each with its reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.pin.policy import SHIPPED_BLOCKLIST, PinPolicy, load_blocklist


@pytest.fixture
def policy() -> PinPolicy:
    return PinPolicy(blocklist=load_blocklist())


@pytest.mark.parametrize(
    ("pin", "code"),
    [
        ("12345", "too_short"),
        ("12a456", "not_digits"),
        ("\uff11\uff12\uff13\uff14\uff15\uff16", "not_digits"),  # full-width digits
        ("000000", "repeated"),
        ("121212", "pattern"),
        ("123123", "pattern"),
        ("234567", "sequence"),
        ("876543", "sequence"),
        ("890123", "sequence"),
        ("147258", "keyboard"),
        ("258036", "keyboard"),
        ("741852", "common"),
        ("311299", "date"),
        ("120599", "date"),
        ("990512", "date"),
        ("142536", "common"),
        ("839201", None),
    ],
)
def test_six_digit_pins(policy: PinPolicy, pin: str, code: str | None) -> None:
    """Each guessable six-digit shape is refused with its own reason; a random one passes."""
    refusal = policy.check(pin)
    assert (refusal.code if refusal else None) == code


def test_eight_digits_can_be_required() -> None:
    """min_length 8 (NIST SP 800-63B for centrally verified secrets) refuses six digits."""
    strict = PinPolicy(min_length=8, blocklist=load_blocklist())
    refusal = strict.check("839201")
    assert refusal is not None
    assert (refusal.code, refusal.args()) == ("too_short", {"min": 8})
    assert strict.check("83920175") is None


def test_eight_digit_dates_are_refused(policy: PinPolicy) -> None:
    """Birthdays written DDMMYYYY or YYYYMMDD are refused."""
    assert [policy.check(p).code for p in ("25121985", "19851225")] == ["date", "date"]  # type: ignore[union-attr]


def test_letters_allowed_when_not_digits_only() -> None:
    """digits_only false accepts a passphrase-like PIN but still refuses keyboard rows."""
    open_policy = PinPolicy(digits_only=False, blocklist=load_blocklist())
    assert open_policy.check("blue-kettle") is None
    assert open_policy.check("qwerty").code == "keyboard"  # type: ignore[union-attr]


def test_operator_blocklist_file_is_added(tmp_path: Path) -> None:
    """Values in pin.blocklist_file are refused as common, on top of the shipped list."""
    extra = tmp_path / "ours.txt"
    extra.write_text("# our support line\n839201\n")
    policy = PinPolicy(blocklist=load_blocklist(extra))
    assert policy.check("839201").code == "common"  # type: ignore[union-attr]
    assert policy.check("142536").code == "common"  # type: ignore[union-attr]


def test_blocklist_can_be_switched_off() -> None:
    """blocklist false leaves only length and alphabet checks."""
    assert PinPolicy(use_blocklist=False).check("123456") is None


def test_shipped_list_is_well_formed() -> None:
    """The shipped list holds only digit strings of 4 to 8 characters."""
    values = load_blocklist()
    assert len(values) > 150
    assert all(v.isdigit() and 4 <= len(v) <= 8 for v in values)
    assert SHIPPED_BLOCKLIST.name == "common-pins.txt"
