"""IP signals: normalisation, /24 and /64, generated MaxMind databases, Auth0 fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.geoip import GeoIp
from gateway.settings import GeoipSettings
from gateway.signals import SignalExtractor, ip_facts
from tests.geoip_fixtures import write_anonymous_db, write_asn_db, write_country_db
from tests.signals.helpers import sms

AUTH0_GEOIP = {"countryCode": "NG", "countryCode3": "NGA", "countryName": "Nigeria"}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> GeoipSettings:
    """Country, ASN and Anonymous-IP databases written for this module."""
    d = tmp_path_factory.mktemp("geoip")
    return GeoipSettings(
        country_db=write_country_db(
            d / "country.mmdb", {"203.0.113.0/24": "GB", "2001:db8::/32": "FR"}
        ),
        asn_db=write_asn_db(
            d / "asn.mmdb",
            {"203.0.113.0/24": (64500, "Example Hosting"), "2001:db8::/32": (64501, "V6 Net")},
        ),
        anonymous_db=write_anonymous_db(
            d / "anonymous.mmdb",
            {
                "203.0.113.128/26": {"is_hosting_provider": True},
                "203.0.113.192/27": {"is_tor_exit_node": True},
                "203.0.113.224/27": {"is_public_proxy": True},
                "2001:db8:bad::/48": {"is_residential_proxy": True},
            },
        ),
    )


@pytest.fixture
def geoip(databases: GeoipSettings) -> Iterator[GeoIp]:
    """The module's databases, opened."""
    geo = GeoIp.open(databases)
    yield geo
    geo.close()


def test_ipv4_signals_have_the_slash_24() -> None:
    """An IPv4 address gives version 4 and its /24."""
    signals = SignalExtractor().compute(sms(ip="198.51.100.77"))
    assert (signals.ip, signals.ip_version, signals.ip_net) == (
        "198.51.100.77",
        4,
        "198.51.100.0/24",
    )


def test_ipv6_signals_have_the_slash_64_and_compressed_form() -> None:
    """An IPv6 address is compressed and gives its /64."""
    signals = SignalExtractor().compute(sms(ip="2001:0DB8:0000:0001:0000:0000:0000:0042"))
    assert (signals.ip, signals.ip_version) == ("2001:db8:0:1::42", 6)
    assert signals.ip_net == "2001:db8:0:1::/64"


def test_ipv4_mapped_ipv6_becomes_ipv4() -> None:
    """::ffff:203.0.113.9 is treated as the IPv4 address it carries."""
    assert ip_facts("::ffff:203.0.113.9") == ip_facts("203.0.113.9")


def test_unparseable_ip_gives_no_ip_signals() -> None:
    """An address that does not parse leaves every IP signal unknown."""
    signals = SignalExtractor().compute(sms(ip="999.1.1.1"))
    assert (signals.ip, signals.ip_version, signals.ip_net, signals.ip_country) == (None,) * 4


def test_no_database_means_unknown_ip_intelligence() -> None:
    """Without databases, country, ASN and anonymity are None ("unknown"), source None."""
    signals = SignalExtractor().compute(sms())
    assert (signals.ip_country, signals.asn, signals.as_org, signals.ip_anonymous) == (None,) * 4
    assert (signals.ip_hosting, signals.ip_tor, signals.ip_proxy, signals.ip_source) == (None,) * 4


def test_country_asn_and_flags_come_from_the_databases(geoip: GeoIp) -> None:
    """An address in every database gets its country, AS number, organisation and flags."""
    signals = SignalExtractor(geoip).compute(sms(ip="203.0.113.130"))
    assert (signals.ip_country, signals.asn, signals.as_org) == ("GB", 64500, "Example Hosting")
    assert (signals.ip_anonymous, signals.ip_hosting, signals.ip_tor, signals.ip_proxy) == (
        True,
        True,
        False,
        False,
    )
    assert signals.ip_source == "maxmind"


def test_tor_and_proxy_flags(geoip: GeoIp) -> None:
    """Tor exits and public or residential proxies set ip.tor and ip.proxy."""
    assert geoip.lookup("203.0.113.200").tor is True
    assert geoip.lookup("203.0.113.230").proxy is True
    assert geoip.lookup("2001:db8:bad::1").proxy is True


def test_ipv6_addresses_are_looked_up_too(geoip: GeoIp) -> None:
    """IPv6 addresses get their country and ASN from the same databases."""
    signals = SignalExtractor(geoip).compute(sms(ip="2001:db8::1"))
    assert (signals.ip_country, signals.asn, signals.as_org) == ("FR", 64501, "V6 Net")


def test_address_absent_from_databases_is_unknown_but_not_anonymous(geoip: GeoIp) -> None:
    """An address no database holds: country and ASN unknown; anonymity known False."""
    signals = SignalExtractor(geoip).compute(sms(ip="8.8.8.8"))
    assert (signals.ip_country, signals.asn, signals.as_org) == (None, None, None)
    assert (signals.ip_anonymous, signals.ip_hosting, signals.ip_tor, signals.ip_proxy) == (
        False,
        False,
        False,
        False,
    )


def test_auth0_geoip_country_is_used_without_a_country_database() -> None:
    """With no country database, Auth0's geoip countryCode fills ip.country, source "auth0"."""
    signals = SignalExtractor().compute(sms(auth0_geoip=AUTH0_GEOIP))
    assert (signals.ip_country, signals.ip_source) == ("NG", "auth0")


def test_country_database_wins_over_auth0_geoip(geoip: GeoIp) -> None:
    """With a country database, Auth0's country is ignored even when it disagrees."""
    signals = SignalExtractor(geoip).compute(sms(ip="203.0.113.9", auth0_geoip=AUTH0_GEOIP))
    assert (signals.ip_country, signals.ip_source) == ("GB", "maxmind")


def test_malformed_auth0_country_is_ignored() -> None:
    """An Auth0 countryCode that is not two letters is not used."""
    signals = SignalExtractor().compute(sms(auth0_geoip={"countryCode": "Nigeria"}))
    assert (signals.ip_country, signals.ip_source) == (None, None)


def test_ip_lookups_are_cached(geoip: GeoIp) -> None:
    """Looking up the same address twice reads the databases once."""
    geoip.lookup("203.0.113.50")
    first = geoip._cached.cache_info()
    geoip.lookup("203.0.113.50")
    assert geoip._cached.cache_info().hits == first.hits + 1


def test_missing_database_file_is_an_error_naming_the_key(tmp_path: Path) -> None:
    """A configured database path that does not exist names its geoip key."""
    with pytest.raises(ConfigError, match=r"geoip\.asn_db: .*absent\.mmdb does not exist"):
        GeoIp.open(GeoipSettings(asn_db=tmp_path / "absent.mmdb"), "smsguard.yaml")


def test_database_of_the_wrong_type_is_an_error(databases: GeoipSettings) -> None:
    """An ASN database configured as the country database is refused."""
    with pytest.raises(ConfigError, match=r"geoip\.country_db: .* is a GeoLite2-ASN database"):
        GeoIp.open(GeoipSettings(country_db=databases.asn_db))


def test_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    """A file that is not an .mmdb is refused with its key."""
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(ConfigError, match=r"geoip\.anonymous_db: .* is not a MaxMind database"):
        GeoIp.open(GeoipSettings(anonymous_db=junk))


def test_city_database_serves_as_country_database(tmp_path: Path) -> None:
    """A GeoIP2-City database may be configured as country_db."""
    city = write_country_db(
        tmp_path / "city.mmdb", {"192.0.2.0/24": "DE"}, database_type="GeoIP2-City"
    )
    geo = GeoIp.open(GeoipSettings(country_db=city))
    try:
        assert geo.lookup("192.0.2.1").country == "DE"
    finally:
        geo.close()
