"""Settings every provider type shares; each type's own model lives beside its adapter.

The provider types are listed once, in gateway/providers/registry.py.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from gateway.settings.base import Section

if TYPE_CHECKING:
    from gateway.providers.base import Deps, Provider


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
    # Plain http:// sends the credentials in clear: allowed for loopback hosts only, unless this
    # is set (a warning is logged at startup).
    allow_insecure_http: bool = False

    if TYPE_CHECKING:
        # Each provider type narrows it to its YAML name, a Literal (pydantic's discriminator).
        type: str

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _tls_unless_loopback(self) -> ProviderBase:
        for name in ("base_url", "status_callback"):
            url = getattr(self, name, None)
            if url and not self.allow_insecure_http and not secure_or_loopback(url):
                raise ValueError(
                    f"{name}: plain http:// to a host other than loopback sends credentials in "
                    "clear; use https://, or set allow_insecure_http: true"
                )
        return self

    def build_provider(self, deps: Deps) -> Provider:
        """The adapter that sends with these settings (each provider type says how)."""
        raise NotImplementedError(type(self).__name__)


def secure_or_loopback(url: str) -> bool:
    """https://, or http:// to localhost / a loopback address."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
