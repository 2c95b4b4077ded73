"""Settings of the providers stage: what every provider shares, and each provider type."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from gateway.settings.base import Secret, Section


class BreakerSettings(Section):
    # Consecutive provider failures (timeouts, connection errors, 5xx, 429, bad credentials) that
    # open the circuit; a refused message (bad number, 4xx) does not count.
    failure_threshold: int = Field(default=5, ge=1)
    # Seconds an open circuit stays open before one trial message is let through (half-open).
    reset_after_s: float = Field(default=30.0, gt=0)


class ProviderBase(Section):
    # Unique name, used in routes, metrics, logs and events.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    # Scheme and host of the provider's API (each type has its real API as default).
    base_url: str = ""
    # Per attempt; both are also capped by the time left before the request's deadline.
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=8.0, gt=0)
    # Attempts on this provider (connection errors, timeouts, 5xx, 429) before failing over.
    max_attempts: int = Field(default=3, ge=1, le=10)
    # Backoff before attempt n+1: base * 2^(n-1), capped, with jitter (x0.5..1).
    backoff_base_s: float = Field(default=0.2, gt=0, le=10)
    backoff_max_s: float = Field(default=2.0, gt=0, le=60)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class TwilioSettings(ProviderBase):
    type: Literal["twilio"]
    base_url: str = "https://api.twilio.com"
    # Real SIDs are AC + 32 hex digits; only the prefix is checked so test accounts still load.
    account_sid: str = Field(pattern=r"^AC")
    auth_token: Secret
    # Sender: a Twilio number / alphanumeric id, or a Messaging Service (at least one of them).
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    # Where Twilio posts delivery status; default: <server.public_url>/providers/twilio/status.
    # Omitted (no delivery status) when neither is set.
    status_callback: str | None = Field(default=None, pattern=r"^https?://")

    @model_validator(mode="after")
    def _sender(self) -> TwilioSettings:
        if not (self.from_ or self.messaging_service_sid):
            raise ValueError("set `from` or `messaging_service_sid`")
        return self


class VonageSettings(ProviderBase):
    type: Literal["vonage"]
    base_url: str = "https://rest.nexmo.com"
    api_key: str
    api_secret: Secret
    # Sender id: a Vonage number (E.164) or an alphanumeric name where the country allows it.
    from_: str = Field(alias="from")


_TEMPLATE_FIELDS = frozenset({"to", "body", "message_id", "country", "from"})


class HttpProviderSettings(ProviderBase):
    type: Literal["http"]
    # The send endpoint is `base_url` + `path` (base_url is required for this type).
    path: str = "/"
    method: Literal["POST", "PUT"] = "POST"
    # Extra request headers (e.g. Authorization); values are secrets ({env: NAME} works).
    headers: dict[str, Secret] = {}
    # JSON body; string values (at any depth) may use {to}, {body}, {message_id}, {country}, {from}.
    body_template: dict[str, Any] = {"to": "{to}", "text": "{body}"}
    # Value of {from}.
    from_: str | None = Field(default=None, alias="from")
    # HTTP statuses that mean "accepted"; 429 and 5xx are retried, anything else is a refusal.
    success_status: list[int] = [200, 201, 202]
    # Dotted path to the provider's message id in its JSON answer ("data.id", "messages.0.id").
    message_id_field: str | None = None

    @model_validator(mode="after")
    def _endpoint(self) -> HttpProviderSettings:
        if not self.base_url:
            raise ValueError("base_url is required for type: http")
        if not self.path.startswith("/"):
            raise ValueError("path must start with '/'")
        unknown = sorted(_template_fields(self.body_template) - _TEMPLATE_FIELDS)
        if unknown:
            found = ", ".join("{" + u + "}" for u in unknown)
            allowed = ", ".join("{" + f + "}" for f in sorted(_TEMPLATE_FIELDS))
            raise ValueError(f"body_template: unknown placeholder(s) {found}; use {allowed}")
        return self


def _template_fields(node: Any) -> set[str]:
    """Every {name} used in the string values of a JSON template, at any depth."""
    if isinstance(node, str):
        return set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", node))
    if isinstance(node, dict):
        return set().union(*(_template_fields(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_template_fields(v) for v in node))
    return set()


class SandboxSettings(ProviderBase):
    type: Literal["sandbox"]
    # How many recent messages to keep in Redis (a capped list, newest first).
    keep: int = Field(default=200, ge=1, le=100_000)
    # Serve them at GET /sandbox/messages. It shows full numbers and codes: never in production.
    expose: bool = False


ProviderSettings = Annotated[
    TwilioSettings | VonageSettings | HttpProviderSettings | SandboxSettings,
    Field(discriminator="type"),
]
