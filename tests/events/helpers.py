"""Builders for the data the event recorder and the dashboard read: requests, signals, decisions."""

from __future__ import annotations

from gateway.clock import FakeClock
from gateway.events import EventRecorder, Outcome
from gateway.logs import PhoneHasher
from gateway.metrics import Metrics
from gateway.models import Action, Decision, ShadowHit, SmsRequest, TraceStep
from gateway.settings import EventsSettings
from gateway.signals import Signals

RECIPIENT = "+447700900123"


def sms(
    n: int = 0, recipient: str = RECIPIENT, ip: str = "203.0.113.7", at: float = 0
) -> SmsRequest:
    return SmsRequest(
        request_id=f"req-{n}",
        received_at=at or 1_700_000_000.0,
        shape="sms_gateway",
        recipient=recipient,
        body="Your verification code is: 123456",
        ip=ip,
        user_agent="Mozilla/5.0 Chrome/126",
    )


def signals(recipient: str = RECIPIENT, ip: str = "203.0.113.7", country: str = "GB") -> Signals:
    net = ".".join(ip.split(".")[:3]) + ".0/24"
    return Signals(
        e164=recipient,
        phone_valid=True,
        phone_country=country,
        calling_code=44,
        number_type="MOBILE",
        ip=ip,
        ip_version=4,
        ip_net=net,
        ip_country="GB",
        asn=64500,
        as_org="Example Hosting",
        ua_family="Chrome",
    )


def blocked(rule: str = "prefix-burst") -> Decision:
    return Decision(
        Action.BLOCK,
        rule_id=rule,
        reason="too many messages to 447700 in 10m",
        status=429,
        shadow=(ShadowHit("asn-hosting", "block", "hosting network"),),
        trace=(
            TraceStep("allow-test-numbers", False, ""),
            TraceStep("asn-hosting", True, "asn 64500 in hosting"),
            TraceStep(rule, True, "11 > 10 in 10m"),
        ),
    )


def blocked_outcome() -> Outcome:
    return Outcome("blocked", 429, latency_ms=1.5)


def recorder(redis: object, clock: FakeClock | None = None, **settings: int) -> EventRecorder:
    return EventRecorder(
        redis,  # type: ignore[arg-type]
        EventsSettings(**settings),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
        metrics=Metrics(),
        hasher=PhoneHasher(b"k" * 32),
    )
