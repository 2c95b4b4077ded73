"""Requests shaped and signed like Auth0's, for the tests of every stage."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt

SECRET = "test-gateway-secret-0123456789abcdef-0123456789abcdef-0123456789ab"
AUDIENCE = "urn:MySmsGateway"
SUBJECT = "urn:Auth0"


def gateway_token(
    secret: str | bytes = SECRET,
    *,
    aud: str = AUDIENCE,
    sub: str = SUBJECT,
    alg: str = "HS256",
    ttl: int | None = 60,
    now: float | None = None,
    **extra: Any,
) -> str:
    """A JWT like the one Auth0 sends to the SMS gateway (sub/aud, HMAC with the shared secret),
    issued at `now` (the gateway's clock; default the real time)."""
    now = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": sub, "aud": aud, "iat": now, **extra}
    if ttl is not None:
        claims["exp"] = now + ttl
    key = secret.encode() if isinstance(secret, str) else secret
    return jwt.encode(claims, key, algorithm=alg)


def unsigned_token(alg: str = "none", **claims: Any) -> str:
    """A token with an arbitrary header algorithm and no valid signature (attack shapes)."""

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = {"sub": SUBJECT, "aud": AUDIENCE, **claims}
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(body)}."


def auth_headers(token: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token or gateway_token()}",
        "Content-Type": "application/json",
    }


def legacy_payload(recipient: str = "+44 7400 123456", **req: Any) -> dict[str, Any]:
    """The legacy `sms_gateway` connection body with forward_req_info (Auth0's documented shape)."""
    return {
        "recipient": recipient,
        "body": "Your verification code is: 123456",
        "sender": "+1 234 567",
        "req": {
            "ip": "203.0.113.7",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126",
            **req,
        },
    }


def action_payload(recipient: str = "+447400123456", **extra: Any) -> dict[str, Any]:
    """What the custom-phone-provider Action forwards (Auth0's migration sample plus extras)."""
    return {
        "recipient": recipient,
        "body": "Your verification code is: 654321",
        "sender": "+15005550006",
        "req": {
            "ip": "2001:db8::1",
            "user_agent": "Mozilla/5.0 Safari/605.1.15",
            "language": "en-GB",
            "method": "POST",
            "geoip": {"countryCode": "GB", "countryCode3": "GBR", "countryName": "United Kingdom"},
        },
        "message_type": "otp_verify",
        "locale": "en",
        "delivery_method": "text",
        "client_id": "abc123",
        "correlation_id": "corr-1",
        **extra,
    }
