"""The Signals record: what the extractor computed for one request, read by the rules.

Values a later stage reads from its own state during the decision (velocity, feedback) are not
fields here: they travel in `state`, keyed by signal name, and are declared like any other signal
in `gateway.signals.registry`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.models import SmsRequest


@dataclass(frozen=True, slots=True)
class Signals:
    # phone
    e164: str
    phone_valid: bool
    phone_country: str | None  # ISO alpha-2 region of the number
    calling_code: int | None
    number_type: str  # phonenumbers type name: MOBILE, FIXED_LINE, PREMIUM_RATE, ... UNKNOWN
    # ip
    ip: str | None = None
    ip_version: int | None = None
    ip_net: str | None = None  # the /24 (IPv4) or /64 (IPv6) network, e.g. "203.0.113.0/24"
    ip_country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    ip_anonymous: bool | None = None
    ip_hosting: bool | None = None
    ip_tor: bool | None = None
    ip_proxy: bool | None = None
    ip_source: str | None = None  # "maxmind", "auth0" or None
    # user agent
    user_agent: str | None = None
    ua_family: str | None = (
        None  # "Chrome", "Safari", "curl", "python-requests", "HeadlessChrome" ...
    )
    ua_automation: bool = False
    # request
    language: str | None = None
    message_type: str | None = None
    body_matches_template: bool | None = None
    code_length: int | None = None
    # Request-time state provided by later stages, by signal name (see the module docstring).
    state: Mapping[str, object] = dataclasses.field(default_factory=dict, hash=False)

    def prefix(self, digits: int) -> str:
        """The first `digits` digits after '+': prefix(6) of +447700900123 is '447700'."""
        return self.e164.lstrip("+")[:digits]

    def with_state(self, values: Mapping[str, object]) -> Signals:
        """These signals with more request-time state (a stage's own reads) added."""
        return dataclasses.replace(self, state={**self.state, **values})


class SignalSource(Protocol):
    def compute(self, sms: SmsRequest) -> Signals:
        """Derive the signals for one request; must not raise on missing data."""
        ...
