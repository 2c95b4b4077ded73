"""GeoIP against MaxMind's official test databases in ../shared/geoip (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.geoip import GeoIp
from gateway.settings import GeoipSettings
from gateway.signals import SignalExtractor
from tests.signals.helpers import sms

pytestmark = pytest.mark.shared


@pytest.fixture
def maxmind(shared_dir: Path) -> Iterator[GeoIp]:
    """Country, ASN and Anonymous-IP test databases, read in place (never copied)."""
    d = shared_dir / "geoip"
    geo = GeoIp.open(
        GeoipSettings(
            country_db=d / "GeoIP2-Country-Test.mmdb",
            asn_db=d / "GeoLite2-ASN-Test.mmdb",
            anonymous_db=d / "GeoIP2-Anonymous-IP-Test.mmdb",
        )
    )
    yield geo
    geo.close()


def test_country_of_a_uk_address(maxmind: GeoIp) -> None:
    """2.125.160.216 is GB in GeoIP2-Country-Test."""
    assert maxmind.lookup("2.125.160.216").country == "GB"


def test_country_of_an_ipv6_address(maxmind: GeoIp) -> None:
    """2001:218::1 is JP in GeoIP2-Country-Test."""
    assert maxmind.lookup("2001:218::1").country == "JP"


def test_anycast_address_has_no_country(maxmind: GeoIp) -> None:
    """214.1.1.0/24 is anycast with no country: unknown, not an error."""
    assert maxmind.lookup("214.1.1.1").country is None


def test_asn_and_organisation(maxmind: GeoIp) -> None:
    """1.128.0.0 is AS1221 Telstra Pty Ltd in GeoLite2-ASN-Test."""
    geo = maxmind.lookup("1.128.0.0")
    assert (geo.asn, geo.as_org) == (1221, "Telstra Pty Ltd")


def test_asn_without_organisation(maxmind: GeoIp) -> None:
    """12.81.96.1 has AS7018 and no organisation in the test data."""
    geo = maxmind.lookup("12.81.96.1")
    assert (geo.asn, geo.as_org) == (7018, None)


def test_anonymous_flags(maxmind: GeoIp) -> None:
    """The Anonymous-IP test networks map to ip.anonymous/hosting/tor/proxy as their JSON says."""
    every = maxmind.lookup("81.2.69.1")
    assert (every.anonymous, every.hosting, every.tor, every.proxy) == (True, True, True, True)
    tor = maxmind.lookup("1.124.213.1")
    assert (tor.anonymous, tor.hosting, tor.tor, tor.proxy) == (True, False, True, False)
    hosting = maxmind.lookup("71.160.223.5")
    assert (hosting.hosting, hosting.tor) == (True, False)
    assert maxmind.lookup("186.30.236.1").proxy is True


def test_extractor_with_official_databases(maxmind: GeoIp) -> None:
    """The extractor reports MaxMind's answers as signals with source "maxmind"."""
    signals = SignalExtractor(maxmind).compute(sms(ip="81.2.69.160"))
    assert (signals.ip_country, signals.ip_source, signals.ip_tor) == ("GB", "maxmind", True)


def test_city_and_isp_databases_are_accepted(shared_dir: Path) -> None:
    """GeoIP2-City serves as the country database and GeoIP2-ISP as the ASN database."""
    d = shared_dir / "geoip"
    geo = GeoIp.open(
        GeoipSettings(country_db=d / "GeoIP2-City-Test.mmdb", asn_db=d / "GeoIP2-ISP-Test.mmdb")
    )
    try:
        assert geo.lookup("81.2.69.160").country == "GB"
        assert geo.lookup("1.128.0.0").asn == 1221
    finally:
        geo.close()
