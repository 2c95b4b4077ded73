"""Phone signals: E.164, validity, region, calling code, number type, prefixes."""

from __future__ import annotations

from gateway.phone import phone_facts
from gateway.signals import SignalExtractor
from tests.signals.helpers import sms

extract = SignalExtractor().compute


def test_uk_mobile_is_valid_mobile_in_gb() -> None:
    """A UK mobile number is valid, in GB, calling code 44, type MOBILE."""
    signals = extract(sms(recipient="+447400123456"))
    assert (signals.e164, signals.phone_valid, signals.phone_country) == (
        "+447400123456",
        True,
        "GB",
    )
    assert (signals.calling_code, signals.number_type) == (44, "MOBILE")


def test_uk_09_number_is_premium_rate() -> None:
    """A UK 09xx number is PREMIUM_RATE, the type pumping attacks love."""
    assert extract(sms(recipient="+449098790000")).number_type == "PREMIUM_RATE"


def test_other_number_types_are_named_as_phonenumbers_names_them() -> None:
    """Toll-free, VoIP, fixed line and NANP's FIXED_LINE_OR_MOBILE keep phonenumbers' names."""
    assert phone_facts("+448001234567").number_type == "TOLL_FREE"
    assert phone_facts("+445612345678").number_type == "VOIP"
    assert phone_facts("+442079460000").number_type == "FIXED_LINE"
    assert phone_facts("+12015550123").number_type == "FIXED_LINE_OR_MOBILE"


def test_spaces_in_the_number_are_normalised_to_e164() -> None:
    """ "+44 7400 123 456" gives the same signals as "+447400123456"."""
    assert extract(sms(recipient="+44 7400 123 456")) == extract(sms(recipient="+447400123456"))


def test_invalid_number_keeps_its_calling_code_country_and_unknown_type() -> None:
    """A number too short to be valid is invalid, type UNKNOWN, still in GB by its calling code."""
    signals = extract(sms(recipient="+4411"))
    assert (signals.phone_valid, signals.number_type) == (False, "UNKNOWN")
    assert (signals.phone_country, signals.calling_code) == ("GB", 44)


def test_ofcom_drama_range_is_not_a_valid_number() -> None:
    """+447700900xxx (Ofcom's fiction range) is invalid for phonenumbers; rules must allow it."""
    assert phone_facts("+447700900123").valid is False


def test_non_geographic_numbers_have_no_country() -> None:
    """+800 (international freephone) has a calling code but no country."""
    facts = phone_facts("+80012345678")
    assert (facts.country, facts.calling_code) == (None, 800)


def test_unparseable_recipient_is_unknown_not_an_error() -> None:
    """Garbage in the recipient yields an invalid, unknown number instead of raising."""
    signals = extract(sms(recipient="not a number"))
    assert (signals.phone_valid, signals.phone_country, signals.calling_code) == (False, None, None)
    assert signals.number_type == "UNKNOWN"


def test_prefix_returns_any_number_of_leading_digits() -> None:
    """prefix(n) is the first n digits after '+', for any n."""
    signals = extract(sms(recipient="+447400123456"))
    assert [signals.prefix(n) for n in (1, 2, 6, 9)] == ["4", "44", "447400", "447400123"]
    assert signals.prefix(30) == "447400123456"


def test_phone_results_are_cached() -> None:
    """Parsing the same number twice hits the LRU cache."""
    phone_facts.cache_clear()
    phone_facts("+33612345678")
    phone_facts("+33612345678")
    assert phone_facts.cache_info().hits == 1
