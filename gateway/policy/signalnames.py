"""The names rules use for signals, mapped to `Signals` fields in one table.

Each entry says how to read the value and its kind; the kind decides which conditions apply and how
their values are validated (a country must be a known ISO code, an ASN an integer, ...).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from gateway.signals import Signals

Kind = Literal["phone", "country", "phone_type", "bool", "int", "asn", "ip", "str"]

Getter = Callable[[Signals], object]


@dataclass(frozen=True, slots=True)
class SignalSpec:
    name: str
    kind: Kind
    field: str  # the Signals attribute ("" for phone.prefix, computed from e164)
    get: Getter
    help: str


def _spec(name: str, kind: Kind, field: str, help: str) -> tuple[str, SignalSpec]:
    get: Getter = attrgetter(field) if field else _digits
    return name, SignalSpec(name, kind, field, get, help)


def _digits(s: Signals) -> object:
    return s.e164.lstrip("+")


# The one table. `phone.prefix` is special: it needs `digits: N` (see prefix_getter).
SIGNALS: dict[str, SignalSpec] = dict(
    [
        _spec("phone.e164", "phone", "e164", "the recipient in E.164, '+447700900123'"),
        _spec("phone.country", "country", "phone_country", "ISO region of the number"),
        _spec(
            "phone.type",
            "phone_type",
            "number_type",
            "MOBILE, FIXED_LINE, FIXED_LINE_OR_MOBILE, VOIP, PREMIUM_RATE, SHARED_COST, ...",
        ),
        _spec("phone.valid", "bool", "phone_valid", "the number is valid for its region"),
        _spec("phone.calling_code", "int", "calling_code", "country calling code, 44"),
        _spec(
            "phone.prefix",
            "phone",
            "",
            "the first `digits` digits of the number, without '+'",
        ),
        _spec("ip", "ip", "ip", "the end user's IP (v4 or v6)"),
        _spec("ip.net", "str", "ip_net", "the IP's /24 (v4) or /64 (v6) network"),
        # Derived here from `ip` (computed only by rules that use it).
        ("ip.net48", SignalSpec("ip.net48", "str", "", lambda s: _net48(s.ip), "IPv6 /48")),
        _spec("ip.country", "country", "ip_country", "ISO country of the IP"),
        _spec("ip.asn", "asn", "asn", "autonomous system number of the IP"),
        _spec("ip.org", "str", "as_org", "organisation owning the AS"),
        _spec("ip.anonymous", "bool", "ip_anonymous", "any anonymiser (VPN, proxy, Tor)"),
        _spec("ip.hosting", "bool", "ip_hosting", "a hosting / cloud provider"),
        _spec("ip.tor", "bool", "ip_tor", "a Tor exit node"),
        _spec("ip.proxy", "bool", "ip_proxy", "a public or residential proxy"),
        _spec("ua", "str", "user_agent", "the raw user agent"),
        _spec("ua.family", "str", "ua_family", "Chrome, Safari, curl, HeadlessChrome ..."),
        _spec(
            "ua.automation",
            "bool",
            "ua_automation",
            "headless browser, HTTP library or other automation marker",
        ),
        _spec("language", "str", "language", "the request's language"),
        _spec("message_type", "str", "message_type", "Auth0 message type: sms, voice"),
        _spec(
            "body.template_ok",
            "bool",
            "body_matches_template",
            "the body matches the expected OTP template",
        ),
        _spec("body.code_length", "int", "code_length", "digits in the one-time code"),
    ]
)

# Velocity keys may also use these names.
ALIASES = {"recipient": "phone.e164", "asn": "ip.asn", "country": "phone.country"}


@functools.lru_cache(maxsize=65_536)
def _net48_of(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.version != 6:
        return None  # IPv4: the rule does not count it (ip.net covers the /24)
    return str(ipaddress.IPv6Network(f"{address}/48", strict=False))


def _net48(ip: str | None) -> str | None:
    """The IPv6 /48 of the address (a site's allocation); None for IPv4 or unknown."""
    return _net48_of(ip) if ip else None


def national_prefix_getter(digits: int) -> Getter:
    """`<calling code>:<first N digits of the national number>`: ranges of the same size in
    every country (a prefix of the E.164 digits includes the country code, 1 to 3 digits)."""

    def get(s: Signals) -> object:
        if not s.calling_code or not s.e164:
            return None
        cc = str(s.calling_code)
        national = s.e164.lstrip("+")[len(cc) :]
        if len(national) < digits:
            return None
        return f"{cc}:{national[:digits]}"

    return get


def prefix_getter(digits: int) -> Getter:
    """Reads `phone.prefix` with N digits."""

    def get(s: Signals) -> object:
        return s.prefix(digits)

    return get


def resolve(name: str) -> SignalSpec | None:
    return SIGNALS.get(ALIASES.get(name, name))
