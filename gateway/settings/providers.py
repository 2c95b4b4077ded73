"""Settings every provider type shares; each type's own model lives beside its adapter.

The provider types are listed once, in gateway/providers/registry.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

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
    if TYPE_CHECKING:
        # Each provider type narrows it to its YAML name, a Literal (pydantic's discriminator).
        type: str

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def build_provider(self, deps: Deps) -> Provider:
        """The adapter that sends with these settings (each provider type says how)."""
        raise NotImplementedError(type(self).__name__)
