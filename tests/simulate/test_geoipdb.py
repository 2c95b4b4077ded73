"""Synthetic GeoIP databases for the simulator's address pools, read by the gateway's own GeoIp."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.geoip import GeoIp
from gateway.settings import GeoipSettings
from gateway.simulate.generate import LOW_AND_SLOW, PREFIX_BURST, VPN, VPN_DRIP, generate
from gateway.simulate.geoipdb import write_databases
from gateway.simulate.population import HOSTING, VPN_EXITS
from tests.simulate.conftest import tiny

BURST = generate(tiny(PREFIX_BURST, seed=5, attack_scale=0.1))
SLOW = generate(tiny(LOW_AND_SLOW, seed=5, legit_per_hour=60, attack_scale=0.3))


@pytest.fixture(scope="module")
def geo(tmp_path_factory: pytest.TempPathFactory) -> GeoIp:
    paths = write_databases(tmp_path_factory.mktemp("geoip"))
    return GeoIp.open(GeoipSettings(**{k: str(v) for k, v in paths.items()}))


def test_hosting_pools_are_hosting_with_their_asn(geo: GeoIp) -> None:
    """A prefix burst's addresses are hosting providers with the provider's AS number."""
    asns = {n.asn for n in HOSTING}
    for r in BURST:
        if r.scenario == PREFIX_BURST:
            found = geo.lookup(r.ip)
            assert found.hosting is True
            assert found.asn in asns
            assert found.country == r.ip_country


def test_residential_pools_are_their_country_and_not_anonymous(geo: GeoIp) -> None:
    """Real users' (but VPN users') and proxy exits' addresses are their country, not flagged."""
    for r in SLOW:
        if VPN not in r.kinds:
            found = geo.lookup(r.ip)
            assert found.country == r.ip_country, r.ip
            assert found.hosting is False
            assert found.anonymous is False


def test_vpn_exits_are_anonymous_hosting(geo: GeoIp) -> None:
    """The VPN drip's exits are hosting and anonymous, with the VPN provider's AS number."""
    asns = {n.asn for n in VPN_EXITS}
    for r in generate(tiny(VPN_DRIP, legit_per_hour=0, attack_scale=0.01)):
        found = geo.lookup(r.ip)
        assert (found.hosting, found.anonymous, found.asn in asns) == (True, True, True)


def test_cli_writes_databases_and_snippet(tmp_path: Path) -> None:
    """--write-geoip writes three databases and a geoip settings snippet, sending nothing."""
    assert main(["simulate", "--write-geoip", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["geoip.yaml", "sim-anonymous.mmdb", "sim-asn.mmdb", "sim-country.mmdb"]
    assert "anonymous_db:" in (tmp_path / "geoip.yaml").read_text()
