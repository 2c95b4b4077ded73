"""Alert settings (gateway/alerts): the notifiers, and how incidents are kept and delivered."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from gateway.settings.base import Secret, Section, require_unique

SeverityName = Literal["info", "warning", "critical"]


def require_https(url: str, *, allow_http: bool = False) -> str:
    """Alerts carry figures and links: plain http only to a loopback receiver (tests, sidecars)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        loopback = host == "localhost"
        if not loopback:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
        if loopback or allow_http:
            return url
        raise ValueError(f"{url!r}: use https (plain http is accepted only for loopback hosts)")
    raise ValueError(f"{url!r} is not an http(s) URL")


class _NotifierBase(Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    min_severity: SeverityName = "warning"
    timeout_s: float = Field(5.0, gt=0, le=30)


class WebhookSettings(_NotifierBase):
    """A JSON POST signed with HMAC-SHA256 (header X-Smsguard-Signature)."""

    type: Literal["webhook"]
    url: str
    secret: Secret  # the receiver verifies the signature with it

    @field_validator("url")
    @classmethod
    def _https(cls, url: str) -> str:
        return require_https(url)

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("the webhook secret must be at least 32 bytes")
        return value


class SlackSettings(_NotifierBase):
    """A Slack incoming webhook; its URL is itself the credential."""

    type: Literal["slack"]
    webhook_url: Secret

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: SecretStr) -> SecretStr:
        require_https(value.get_secret_value())
        return value


class PagerDutySettings(_NotifierBase):
    """PagerDuty Events API v2: trigger and resolve, deduplicated by the incident key."""

    type: Literal["pagerduty"]
    routing_key: Secret  # the integration key of a PagerDuty service
    url: str = "https://events.pagerduty.com/v2/enqueue"

    @field_validator("url")
    @classmethod
    def _https(cls, url: str) -> str:
        return require_https(url)


NotifierSettings = Annotated[
    WebhookSettings | SlackSettings | PagerDutySettings, Field(discriminator="type")
]


class SurgeSettings(Section):
    """Refusals of one country, number range or rule far above their own recent level."""

    # Refusals (blocked + dropped) counted over this many recent minutes...
    window_minutes: int = Field(10, ge=1, le=60)
    # ...against the same-length average of the last `baseline_hours` (0 refusals counts as 1).
    baseline_hours: int = Field(24, ge=1, le=168)
    factor: float = Field(5.0, gt=1)
    # Fewer refusals than this in the window never alert, whatever the baseline.
    min_refusals: int = Field(20, ge=1)
    # How often the counts are looked at.
    every_s: int = Field(60, ge=5, le=3600)


class AlertsSettings(Section):
    notifiers: list[NotifierSettings] = []
    surge: SurgeSettings = SurgeSettings()
    # The dashboard's base URL for links in alerts; default: server.public_url.
    dashboard_url: str | None = None
    # An incident not raised again for this long is over: a resolve message goes out.
    resolve_after_s: int = Field(600, ge=30, le=86_400)
    # How long a delivery is retried while its receiver is down (backoff 1 s doubling to 60 s).
    retry_for_s: int = Field(900, ge=10, le=86_400)
    # At most this many messages a minute to one notifier; more are counted and dropped.
    per_minute: int = Field(30, ge=1, le=1000)
    # Alerts waiting for delivery, per notifier; beyond it new ones are counted and dropped.
    queue_size: int = Field(1000, ge=10, le=100_000)

    @field_validator("notifiers")
    @classmethod
    def _unique(cls, notifiers: list[NotifierSettings]) -> list[NotifierSettings]:
        require_unique((n.name for n in notifiers), "notifier")
        return notifiers
