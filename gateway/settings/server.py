"""Settings of the process: where it listens, its Redis, and its logs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.settings.base import Secret, Section


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    # The URL browsers and Auth0 use to reach this gateway (PIN page links, printed by `make run`).
    public_url: str | None = None
    # Seconds in-flight requests get to finish on SIGTERM before the process exits.
    shutdown_timeout_s: float = Field(15.0, gt=0)
    # /readyz shows each check's detail (rule-file errors, exception text) to whoever asks; off,
    # it shows only each check's status, and the details go to the log when they change.
    readyz_details: bool = False


class RedisSettings(Section):
    url: str = "redis://127.0.0.1:6379/0"
    # Per-call budget for Redis work on the request path (velocity counters, overrides).
    call_timeout_ms: int = Field(50, ge=1, le=10_000)
    # What velocity rules do when Redis is unreachable or slow: local per-process counters,
    # allow the message, or block it.
    on_error: Literal["local", "allow", "block"] = "local"


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    # Key for the keyed hash of phone numbers in logs/events; random per process when unset.
    phone_hash_key: Secret | None = None
