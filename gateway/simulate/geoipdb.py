"""GeoIP databases describing the simulator's own address pools, as MaxMind would describe them.

`make run` has no MaxMind databases, so IP country, ASN and hosting signals are unknown and the
rules on them never fire. `smsguard simulate --write-geoip DIR` writes three small `.mmdb` files
(Country, ASN, Anonymous-IP) in which the simulator's hosting blocks are hosting providers with
their real ASNs and the residential blocks are ISPs of their country; residential-proxy exits are
deliberately NOT flagged (real databases catch only part of them). Start the gateway with the
settings snippet written next to them to include IP-based rules in the figures.

Needs the `mmdb-writer` package (the `dev` extra), imported only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.simulate.population import HOSTING, RESIDENTIAL_OCTETS, VPN_EXITS

# Private-use AS numbers for the synthetic residential ISPs (one per /8).
_RESIDENTIAL_ASN_BASE = 4_200_000_000


def networks() -> tuple[dict[str, str], dict[str, tuple[int, str]], list[str]]:
    """(network -> country, network -> (ASN, org), hosting networks) for every simulated pool."""
    country: dict[str, str] = {}
    asn: dict[str, tuple[int, str]] = {}
    for i, (code, octets) in enumerate(sorted(RESIDENTIAL_OCTETS.items())):
        for octet in octets:
            net = f"{octet}.0.0.0/8"
            country[net] = code
            asn[net] = (_RESIDENTIAL_ASN_BASE + i * 16 + octet % 16, f"{code} Residential ISP")
    hosting: list[str] = []
    for provider in (*HOSTING, *VPN_EXITS):
        for block in provider.blocks:
            net = f"{block}.0.0/16"
            country[net] = provider.country
            asn[net] = (provider.asn, provider.org)
            hosting.append(net)
    return country, asn, hosting


def write_databases(directory: Path) -> dict[str, Path]:
    """Write the three databases into `directory`; returns the geoip settings keys -> paths."""
    try:
        from mmdb_writer import MmdbU32, MMDBWriter
        from netaddr import IPSet  # type: ignore[import-untyped]  # dev extra, no stubs
    except ImportError as exc:
        raise RuntimeError(
            "writing GeoIP databases needs the dev extra: .venv/bin/pip install -e '.[dev]'"
        ) from exc

    def write(name: str, db_type: str, records: dict[str, dict[str, Any]]) -> Path:
        writer = MMDBWriter(
            ip_version=6,
            ipv4_compatible=True,
            database_type=db_type,
            languages=["en"],
            description={"en": f"smsguard simulate {db_type} (synthetic)"},
        )
        for net, record in records.items():
            writer.insert_network(IPSet([net]), record)
        path = directory / name
        writer.to_db_file(str(path))
        return path

    country, asn, hosting = networks()
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "country_db": write(
            "sim-country.mmdb",
            "GeoLite2-Country",
            {
                net: {
                    "country": {"iso_code": code, "names": {"en": code}},
                    "registered_country": {"iso_code": code, "names": {"en": code}},
                }
                for net, code in country.items()
            },
        ),
        "asn_db": write(
            "sim-asn.mmdb",
            "GeoLite2-ASN",
            {
                net: {
                    "autonomous_system_number": MmdbU32(number),
                    "autonomous_system_organization": org,
                }
                for net, (number, org) in asn.items()
            },
        ),
        "anonymous_db": write(
            "sim-anonymous.mmdb",
            "GeoIP2-Anonymous-IP",
            {net: {"is_anonymous": True, "is_hosting_provider": True} for net in hosting},
        ),
    }


def settings_snippet(paths: dict[str, Path]) -> str:
    """The `geoip:` settings section pointing at the written databases."""
    lines = [
        "# smsguard simulate: synthetic GeoIP databases for the simulator's address pools",
        "geoip:",
    ]
    lines += [f"  {key}: {path.resolve()}" for key, path in paths.items()]
    return "\n".join(lines) + "\n"
