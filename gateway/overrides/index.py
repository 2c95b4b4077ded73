"""The active overrides arranged so the message path finds the ones matching a request quickly."""

from __future__ import annotations

import ipaddress

from gateway.overrides.targets import Override
from gateway.signals import Signals


class OverrideIndex:
    """The active overrides arranged for a constant-ish-time lookup of one request."""

    def __init__(self, items: list[Override]) -> None:
        self.ip: dict[str, list[Override]] = {}
        self.prefix: dict[str, list[Override]] = {}
        self.country: dict[str, list[Override]] = {}
        self.cidr: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Override]] = []
        for o in items:
            if o.kind == "cidr":
                self.cidr.append((ipaddress.ip_network(o.value), o))
            else:
                getattr(self, o.kind).setdefault(o.value, []).append(o)
        self.prefix_lengths = sorted({len(p) for p in self.prefix}, reverse=True)

    def candidates(self, signals: Signals) -> list[Override]:
        found: list[Override] = []
        if signals.ip:
            found += self.ip.get(signals.ip, [])
            if self.cidr:
                try:
                    addr = ipaddress.ip_address(signals.ip)
                except ValueError:
                    addr = None
                if addr is not None:
                    found += [o for net, o in self.cidr if addr in net]
        if self.prefix_lengths:
            digits = signals.e164.lstrip("+")
            for n in self.prefix_lengths:
                found += self.prefix.get(digits[:n], [])
        if signals.phone_country:
            found += self.country.get(signals.phone_country, [])
        return found
