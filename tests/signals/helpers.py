"""Building requests for signal tests."""

from __future__ import annotations

from typing import Any

from gateway.models import SmsRequest


def sms(**overrides: Any) -> SmsRequest:
    """A legacy-shape request for a valid UK mobile, with `overrides` applied."""
    fields: dict[str, Any] = {
        "request_id": "req-1",
        "received_at": 1_700_000_000.0,
        "shape": "sms_gateway",
        "recipient": "+447400123456",
        "body": "Your verification code is: 123456",
        "ip": "203.0.113.9",
        "user_agent": (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
        ),
    }
    fields.update(overrides)
    return SmsRequest(**fields)
