"""Write real MaxMind `.mmdb` files for tests and benchmarks (with the `mmdb-writer` package).

The databases have the `database_type` and record shapes geoip2 expects, and hold IPv4 and IPv6
networks (an IPv6 tree with IPv4 mapped in, like MaxMind's own files):

    write_country_db(path, {"203.0.113.0/24": "GB", "2001:db8::/32": "FR"})
    write_asn_db(path, {"198.51.100.0/24": (64500, "Example Hosting")})
    write_anonymous_db(path, {"192.0.2.0/24": {"is_hosting_provider": True}})
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmdb_writer import MmdbU32, MMDBWriter
from netaddr import IPSet

ANONYMOUS_FLAGS = (
    "is_anonymous",
    "is_anonymous_vpn",
    "is_hosting_provider",
    "is_public_proxy",
    "is_residential_proxy",
    "is_tor_exit_node",
)


def write_mmdb(path: Path, database_type: str, records: Mapping[str, dict[str, Any]]) -> Path:
    """Write one record per network (CIDR text, IPv4 or IPv6) into a database of `database_type`."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description={"en": f"smsguard test {database_type}"},
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    return path


def write_country_db(
    path: Path, networks: Mapping[str, str], *, database_type: str = "GeoLite2-Country"
) -> Path:
    """A Country database (or `database_type="GeoIP2-City"`): network -> ISO country code."""
    records = {
        network: {
            "country": {"iso_code": code, "names": {"en": code}},
            "registered_country": {"iso_code": code, "names": {"en": code}},
        }
        for network, code in networks.items()
    }
    return write_mmdb(path, database_type, records)


def write_asn_db(path: Path, networks: Mapping[str, tuple[int, str]]) -> Path:
    """A GeoLite2-ASN database: network -> (AS number, organisation)."""
    records = {
        network: {
            "autonomous_system_number": MmdbU32(asn),
            "autonomous_system_organization": org,
        }
        for network, (asn, org) in networks.items()
    }
    return write_mmdb(path, "GeoLite2-ASN", records)


def write_anonymous_db(path: Path, networks: Mapping[str, Mapping[str, bool]]) -> Path:
    """A GeoIP2-Anonymous-IP database: network -> flags; `is_anonymous` is implied by any flag."""
    records: dict[str, dict[str, Any]] = {}
    for network, flags in networks.items():
        unknown = set(flags) - set(ANONYMOUS_FLAGS)
        if unknown:
            raise ValueError(f"unknown anonymous-IP flags: {sorted(unknown)}")
        record = {k: True for k, v in flags.items() if v}
        if record:
            record.setdefault("is_anonymous", True)
        records[network] = record
    return write_mmdb(path, "GeoIP2-Anonymous-IP", records)
