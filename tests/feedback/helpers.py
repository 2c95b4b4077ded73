"""Builders for the feedback tests: a store on the test Redis, sends, Auth0 log events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis.asyncio import Redis

from gateway.feedback.keys import FeedbackKeys, SendDims
from gateway.feedback.store import FeedbackStore, Sent, StoreConfig
from gateway.velocity import CounterKeys

T0 = 1_700_000_000.0
RECIPIENT = "+447700900123"


def make_store(redis: Redis, **config: Any) -> FeedbackStore:
    return FeedbackStore(redis, FeedbackKeys(CounterKeys(b"test-secret")), StoreConfig(**config))


def sent(
    n: int = 0,
    recipient: str = RECIPIENT,
    at: float = T0,
    ip: str = "203.0.113.7",
    asn: int = 64500,
) -> Sent:
    net = ".".join(ip.split(".")[:3]) + ".0/24"
    dims = SendDims(e164=recipient, cc="GB", ip=ip, net=net, asn=asn, ipcc="GB")
    return Sent(dims, at, f"req-{n}")


def iso(at: float) -> str:
    """Auth0's date form: ISO 8601 with milliseconds and a Z."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log_event(
    kind: str,
    log_id: str,
    phone: str = RECIPIENT,
    at: float = T0 + 30,
    *,
    strategy: str | None = "sms",
) -> dict[str, Any]:
    """An Auth0 tenant log event of `kind` for an SMS passwordless user, as the schemas describe."""
    event: dict[str, Any] = {
        "date": iso(at),
        "type": kind,
        "description": "",
        "client_id": "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB",
        "client_name": "Default App",
        "ip": "203.0.113.7",
        "user_agent": "Chrome 126.0.0 / Android 14.0.0",
        "hostname": "example.eu.auth0.com",
        "tenant_name": "example",
        "environment_name": "prod-eu-1",
        "connection": "sms",
        "connection_id": "con_1a5wCUmAs6VOU17n",
        "user_id": "sms|6582a1f0e3f49e006948565c",
        "user_name": phone,
        "details": {"prompts": [], "initiatedAt": int(at * 1000), "completedAt": int(at * 1000)},
        "log_id": log_id,
    }
    if strategy is not None:
        event["strategy"] = strategy
        event["strategy_type"] = "passwordless"
    if kind in ("sepft", "fepft", "fepotpft", "fcoa"):
        event["audience"] = "https://example.eu.auth0.com/userinfo"
        event["scope"] = "openid profile"
    details: dict[str, Any] = event["details"]
    if kind in ("f", "fp", "fcoa"):
        details["error"] = {
            "message": "Wrong phone number or verification code.",
            "oauthError": "invalid_grant",
        }
    if kind == "fcoa":
        details.update(body={}, connection="sms")
    if kind == "ss":
        details["body"] = {"phone_number": phone, "connection": "sms", "tenant": "example"}
    if kind == "cs":
        details["body"] = {
            "authParams": {
                "audience": "https://api.example.com",
                "redirect_uri": "https://app.example.com/callback",
                "response_type": "code",
                "scope": "openid",
                "state": "c3RhdGU",
            },
            "client_id": event["client_id"],
            "connection": "sms",
            "ip": event["ip"],
            "phone_number": phone,
            "request_language": "en",
            "send": "code",
            "tenant": "example",
            "user-agent": "Mozilla/5.0",
            "username": phone,
        }
    if kind == "cls":
        details["body"] = {"client_id": event["client_id"], "connection": "email", "email": "a@b.c"}
        details["body"]["tenant"] = "example"
        details["link"] = "https://example.eu.auth0.com/passwordless/verify_redirect"
    if kind == "fn":
        details.update(email_type="verify_email", notification_type="email", to="a@b.c")
    if kind in ("fepft", "fepotpft"):
        event.pop("details")
    return event


def wrapped(event: dict[str, Any]) -> dict[str, Any]:
    """The envelope a Custom Webhook stream puts around each event."""
    return {"log_id": event["log_id"], "data": event}
