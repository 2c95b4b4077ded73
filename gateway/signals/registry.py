"""The signal registry: every signal the rules can name, declared once.

A declaration says what a signal is called, its kind (which conditions apply and how their values
are validated), how it is read, its help text, and whether decision events store it (under which
field) and the dashboard shows it (column, filter, top list). The rule-name table, the stored event
fields, the aggregate dimensions and the dashboard's signal columns and filters are all derived
from `SIGNALS`; nothing else lists signals.

Three ways to read a value, one per constructor:

- `request(...)`: a field of the `Signals` record the extractor computes from the request;
- `state(...)`: request-time state another stage reads during the decision (velocity, feedback)
  and hands over with `Signals.with_state({name: value})`;
- `derived(...)`: computed from other signals when a rule asks for it.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal

from gateway.signals.outcomes import OUTCOMES
from gateway.signals.record import Signals

Kind = Literal["phone", "country", "phone_type", "bool", "int", "float", "asn", "ip", "str"]

Getter = Callable[[Signals], object]
Setter = Callable[[Signals, object], Signals]


@dataclass(frozen=True, slots=True)
class Stored:
    """How decision events keep a signal."""

    field: str  # the event's field name
    limit: int | None = None  # text is cut to this many characters


@dataclass(frozen=True, slots=True)
class Shown:
    """How the dashboard shows a stored signal."""

    heading: str  # its label on the event page and the events table
    format: str = "{}"  # how a value is written in the column ("AS{}")
    filter: bool = False  # the events page filters on it (exact value, case-insensitive)
    top: str = ""  # aggregate code: stopped traffic counted by value for the overview's top lists
    block: str = ""  # the override kind its one-click "block" button posts ("" = no button)
    table: bool = True  # a column of the events table too (else only on the event page)


@dataclass(frozen=True, slots=True)
class SignalSpec:
    name: str
    kind: Kind
    get: Getter
    help: str
    field: str = ""  # the Signals attribute it reads ("" when derived or from state)
    assign: Setter | None = None  # how rule tests and `rules explain --signal` set it
    stored: Stored | None = None
    shown: Shown | None = None


def request(
    name: str,
    kind: Kind,
    field: str,
    help: str,
    stored: Stored | None = None,
    shown: Shown | None = None,
) -> SignalSpec:
    """A signal the extractor computes: the `Signals` attribute `field`."""

    def assign(s: Signals, value: object) -> Signals:
        # A value from a rule test's YAML: its type is whatever the test wrote.
        changes: dict[str, Any] = {field: value}
        return dataclasses.replace(s, **changes)

    return SignalSpec(name, kind, attrgetter(field), help, field, assign, stored, shown)


def state(
    name: str, kind: Kind, help: str, stored: Stored | None = None, shown: Shown | None = None
) -> SignalSpec:
    """A signal a stage reads from its own state during the decision, kept in `Signals.state`."""

    def get(s: Signals) -> object:
        return s.state.get(name)

    def assign(s: Signals, value: object) -> Signals:
        return s.with_state({name: value})

    return SignalSpec(name, kind, get, help, "", assign, stored, shown)


def derived(name: str, kind: Kind, get: Getter, help: str) -> SignalSpec:
    """A signal computed from others when a rule uses it; rule tests set what it derives from."""
    return SignalSpec(name, kind, get, help)


def _digits(s: Signals) -> object:
    return s.e164.lstrip("+")


@functools.lru_cache(maxsize=65_536)
def _net48_of(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.version != 6:
        return None  # IPv4: the rule does not count it (ip.net covers the /24)
    return str(ipaddress.IPv6Network(f"{address}/48", strict=False))


def _net48(s: Signals) -> object:
    """The IPv6 /48 of the address (a site's allocation); None for IPv4 or unknown."""
    return _net48_of(s.ip) if s.ip else None


# The one table, in the order the README and the dashboard list signals. `phone.prefix` needs
# `digits: N` in a rule (see prefix_getter); events keep their own prefix (events.prefix_digits).
_DECLARED = (
    request("phone.e164", "phone", "e164", "the recipient in E.164, '+447700900123'"),
    request(
        "phone.country",
        "country",
        "phone_country",
        "ISO region of the number",
        Stored("country"),
        Shown("Country", filter=True, top="c", block="country"),
    ),
    request(
        "phone.type",
        "phone_type",
        "number_type",
        "MOBILE, FIXED_LINE, FIXED_LINE_OR_MOBILE, VOIP, PREMIUM_RATE, SHARED_COST, ...",
        Stored("number_type"),
        Shown("Type"),
    ),
    request("phone.valid", "bool", "phone_valid", "the number is valid for its region"),
    request("phone.calling_code", "int", "calling_code", "country calling code, 44"),
    derived("phone.prefix", "phone", _digits, "the first `digits` digits of the number, no '+'"),
    request(
        "ip",
        "ip",
        "ip",
        "the end user's IP (v4 or v6)",
        Stored("ip"),
        Shown("IP", block="ip"),
    ),
    request(
        "ip.net",
        "str",
        "ip_net",
        "the IP's /24 (v4) or /64 (v6) network",
        Stored("net"),
        Shown("Network", top="n", block="cidr"),
    ),
    derived("ip.net48", "str", _net48, "IPv6 /48"),
    request(
        "ip.country",
        "country",
        "ip_country",
        "ISO country of the IP",
        Stored("ip_country"),
        Shown("IP country", table=False),
    ),
    request(
        "ip.asn",
        "asn",
        "asn",
        "autonomous system number of the IP",
        Stored("asn"),
        Shown("ASN", format="AS{}", top="asn"),
    ),
    request(
        "ip.org",
        "str",
        "as_org",
        "organisation owning the AS",
        Stored("as_org", limit=80),
        Shown("AS organisation", table=False),
    ),
    request("ip.anonymous", "bool", "ip_anonymous", "any anonymiser (VPN, proxy, Tor)"),
    request("ip.hosting", "bool", "ip_hosting", "a hosting / cloud provider"),
    request("ip.tor", "bool", "ip_tor", "a Tor exit node"),
    request("ip.proxy", "bool", "ip_proxy", "a public or residential proxy"),
    request("ua", "str", "user_agent", "the raw user agent"),
    request(
        "ua.family",
        "str",
        "ua_family",
        "Chrome, Safari, curl, HeadlessChrome ...",
        Stored("ua"),
        Shown("UA"),
    ),
    request(
        "ua.automation",
        "bool",
        "ua_automation",
        "headless browser, HTTP library or other automation marker",
        Stored("automation"),
        Shown("Automation", table=False),
    ),
    request("language", "str", "language", "the request's language"),
    request("message_type", "str", "message_type", "Auth0 message type: sms, voice"),
    request(
        "body.template_ok",
        "bool",
        "body_matches_template",
        "the body matches the expected OTP template",
    ),
    request("body.code_length", "int", "code_length", "digits in the one-time code"),
)

# What became of earlier codes (completion feedback): one family, see `outcomes`.
_OUTCOMES = tuple(state(o.name, o.kind, o.help) for o in OUTCOMES.values())

SIGNALS: dict[str, SignalSpec] = {spec.name: spec for spec in (*_DECLARED, *_OUTCOMES)}

# Velocity keys may also use these names.
ALIASES = {"recipient": "phone.e164", "asn": "ip.asn", "country": "phone.country"}


def resolve(name: str) -> SignalSpec | None:
    return SIGNALS.get(ALIASES.get(name, name))


def stored() -> Iterator[tuple[SignalSpec, Stored]]:
    """The signals decision events keep, with how."""
    for spec in SIGNALS.values():
        if spec.stored is not None:
            yield spec, spec.stored


def shown() -> Iterator[tuple[Stored, Shown]]:
    """The signals the dashboard shows, by their event field, in declaration order."""
    for spec in SIGNALS.values():
        if spec.stored is not None and spec.shown is not None:
            yield spec.stored, spec.shown


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
