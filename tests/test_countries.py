"""Country codes are checked against the ISO 3166-1 alpha-2 list wherever one is written or read."""

from __future__ import annotations

import pytest

from gateway.countries import NotACountry, country_code, is_country
from gateway.errors import ConfigError, Location
from gateway.lists import load_list
from gateway.prices import parse_price_csv
from gateway.signals import SignalExtractor
from tests.signals.helpers import sms


def test_codes_are_canonical_upper_case() -> None:
    """A listed code in any case (and surrounding space) is returned in upper case."""
    assert country_code(" gb ") == "GB"
    assert is_country("XK")  # Kosovo: user-assigned, but used by MaxMind and phone metadata


@pytest.mark.parametrize(
    ("text", "says"), [("ZZ", "'ZZ' is not"), ("UK", "did you mean GB?"), ("False", "NO")]
)
def test_letters_not_on_the_iso_list_are_refused_with_a_hint(text: str, says: str) -> None:
    """Two letters are not enough: the code must be on the list; common slips get a hint."""
    with pytest.raises(NotACountry, match=says):
        country_code(text)


def test_a_country_list_item_is_checked() -> None:
    """A named country list refuses a code that is not on the ISO list."""
    with pytest.raises(ConfigError, match="'ZZ' is not an ISO 3166-1 alpha-2 country code"):
        load_list("country", [("ZZ", Location("lists/c.txt", 1, 1))], "c")


def test_a_price_row_is_checked() -> None:
    """A price table row for a code that is not on the ISO list is an error at its line."""
    with pytest.raises(ConfigError, match=r"rates\.csv:2: 'ZZ' is not an ISO alpha-2 country"):
        parse_price_csv("country,usd_per_segment\nZZ,0.1\n", "rates.csv")


def test_an_auth0_geoip_country_off_the_list_is_unknown() -> None:
    """A country Auth0 forwards that is not on the ISO list leaves the IP country unknown."""
    signals = SignalExtractor().compute(sms(auth0_geoip={"countryCode": "ZZ"}))
    assert signals.ip_country is None
