"""IP address facts: the normalised address and its /24 or /64 network."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class IpFacts:
    ip: str  # normalised: IPv4-mapped IPv6 becomes IPv4, IPv6 compressed, zone dropped
    version: int
    net: str  # the /24 or /64


@lru_cache(maxsize=65_536)
def ip_facts(text: str) -> IpFacts | None:
    """Normalise an address and find its /24 (IPv4) or /64 (IPv6); None when it is not one."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    bits = 24 if address.version == 4 else 64
    net = ipaddress.ip_network(f"{address}/{bits}", strict=False)
    return IpFacts(str(address), address.version, str(net))
