"""Signals: everything the policy may look at, computed once per request.

Phone (phonenumbers), IP (MaxMind databases when configured, Auth0's geoip otherwise), user agent,
language and message body. Unknown values are None ("unknown"), never an error.
"""

from __future__ import annotations

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
    ua_family: str | None = None  # "Chrome", "Safari", "curl", "python-requests", "HeadlessChrome" ...
    ua_automation: bool = False
    # request
    language: str | None = None
    message_type: str | None = None
    body_matches_template: bool | None = None
    code_length: int | None = None

    def prefix(self, digits: int) -> str:
        """The first `digits` digits of the number after '+', e.g. prefix(6) of +447700900123 = '447700'."""
        return self.e164.lstrip("+")[:digits]


class SignalSource(Protocol):
    def compute(self, sms: SmsRequest) -> Signals:
        """Derive the signals for one request; must not raise on missing data."""
        ...
