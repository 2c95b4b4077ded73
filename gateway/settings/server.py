"""Settings of the process: where it listens, its Redis, and its logs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

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
    # Load shedding (per worker): POST /sms is answered 503 with Retry-After: 1, before any work,
    # while this many are already being handled, or while the event loop runs later than this
    # (ms). 0 turns a trigger off.
    max_in_flight: int = Field(1000, ge=0)
    max_loop_lag_ms: float = Field(0, ge=0)
    # uvloop's event loop (fewer instructions per request); opt-in until a worker shutdown seen
    # to hang under it once (group SIGTERM with --workers 2) is understood.
    uvloop: bool = False


class RedisConnection(Section):
    """How to reach one Redis deployment; gateway/redisclient.py builds every client from it."""

    # standalone: the server; cluster: one seed node (the others are discovered); sentinel: only
    # the scheme (rediss:// = TLS), the credentials and the database are used.
    url: str = "redis://127.0.0.1:6379/0"
    mode: Literal["standalone", "sentinel", "cluster"] = "standalone"
    # Credentials over those in the url (so the password can come from {env:} or {file:}).
    username: str | None = None
    password: Secret | None = None
    # sentinel: the sentinels (host:port) and the name they monitor the primary under.
    sentinels: list[str] = []
    service_name: str = "mymaster"
    sentinel_username: str | None = None
    sentinel_password: Secret | None = None
    # cluster: more seed nodes (host:port), tried when the url's node is down at start.
    nodes: list[str] = []
    # TLS (also on with a rediss:// url): a private CA, a client certificate for mutual TLS.
    tls: bool = False
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_check_hostname: bool = True
    # A pooled connection idle this long is PINGed before use, so none dead since a restart or a
    # failover is handed out (a failed one is also retried on a fresh connection).
    health_check_interval_s: float = Field(5.0, ge=0, le=300)

    @field_validator("sentinels", "nodes")
    @classmethod
    def _host_ports(cls, addresses: list[str]) -> list[str]:
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port")
        return addresses

    @model_validator(mode="after")
    def _mode_needs(self) -> RedisConnection:
        if self.mode == "sentinel" and not self.sentinels:
            raise ValueError("mode sentinel needs sentinels: [host:port, ...]")
        if self.mode != "cluster" and self.nodes:
            raise ValueError("nodes (cluster seed nodes) apply only to mode cluster")
        return self


class RedisSettings(RedisConnection):
    # url and how to connect: RedisConnection.
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
    # Under an attack: POST /sms refusals (blocked, dropped) as one `refusals` line per rule per
    # second with a count, instead of one request line each. Every other request keeps its line.
    aggregate_refusals: bool = False
