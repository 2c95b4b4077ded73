"""The plain data of the message path: intake -> signals -> policy -> providers -> events.

These types are shared by every stage; they hold data only, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

from gateway.jsontypes import JSONObject

PayloadShape = Literal["sms_gateway", "phone_provider"]


@dataclass(frozen=True, slots=True)
class SmsRequest:
    """One validated message from Auth0, numbers already normalised to E.164."""

    request_id: str
    received_at: float  # unix seconds, from the injected clock
    shape: PayloadShape
    recipient: str  # E.164, e.g. "+447700900123"
    body: str
    sender: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    language: str | None = None
    # Auth0's own IP geolocation (Action path, event.request.geoip), used when we have no database.
    auth0_geoip: JSONObject | None = None
    message_type: str | None = None
    locale: str | None = None
    delivery_method: str | None = None
    client_id: str | None = None
    correlation_id: str | None = None


class Action(enum.StrEnum):
    """The verdict. ALLOW sends; BLOCK refuses with a status; DROP answers 200 and sends nothing."""

    ALLOW = "allow"
    BLOCK = "block"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class ShadowHit:
    """A rule in shadow mode matched: what it would have done."""

    rule_id: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One rule's evaluation, for `rules explain` and the dashboard's event detail."""

    rule_id: str
    matched: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict on one request, with the reason a person can read."""

    action: Action
    rule_id: str | None = None
    reason: str = ""
    status: int = 200  # HTTP status returned to Auth0 for BLOCK; 200 otherwise
    shadow: tuple[ShadowHit, ...] = ()
    tags: tuple[str, ...] = ()
    trace: tuple[TraceStep, ...] = ()

    @staticmethod
    def allow(reason: str = "no rule refused it", rule_id: str | None = None) -> Decision:
        return Decision(Action.ALLOW, rule_id=rule_id, reason=reason)


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """What a provider is asked to deliver."""

    message_id: str  # our id, also the request id
    to: str  # E.164
    body: str
    country: str | None = None  # ISO 3166 alpha-2 of the recipient, for routing


@dataclass(frozen=True, slots=True)
class SendResult:
    """A provider accepted a message."""

    provider: str
    provider_message_id: str
    status: str = "accepted"
    attempts: int = 1
    errors: tuple[str, ...] = field(default=())
