"""Completion feedback settings (gateway/feedback): the log stream, the Action, backfill."""

from __future__ import annotations

from pydantic import Field

from gateway.settings.base import Secret, Section


class FeedbackLogStreamSettings(Section):
    """Auth0 Log Streams (Custom Webhook) -> POST /v1/auth0/log-stream (gateway/feedback)."""

    # The exact Authorization header value configured on the stream; unset: no endpoint (404).
    authorization: Secret | None = None
    # Largest body accepted: Auth0 batches many events per POST (not /sms's 8 KiB).
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=4096, le=64 * 1024 * 1024)


class FeedbackBackfillSettings(Section):
    """`smsguard feedback backfill`: a Management API client (client credentials)."""

    # Tenant domain (default: auth0.tenant_domain); the API is https://<domain>/api/v2/.
    domain: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None


class FeedbackSettings(Section):
    """Completed logins fed back into the decision (gateway/feedback)."""

    log_stream: FeedbackLogStreamSettings = FeedbackLogStreamSettings()
    # POST /v1/auth0/login-completed for the post-login Action (signed like POST /sms).
    login_action: bool = True
    # Lifetime of a recipient's "completed a login before" marker, from its last completion.
    verified_ttl_days: int = Field(default=180, ge=1, le=3650)
    # A code sent and not used stays "open" this long (a later completion can still claim it).
    open_code_ttl_s: int = Field(default=86_400, ge=300, le=14 * 86_400)
    # Open codes kept per recipient (the newest); older ones count as unused.
    max_open_codes: int = Field(default=16, ge=1, le=1000)
    # Auth0 log_ids remembered against redelivery.
    dedupe_ttl_days: int = Field(default=7, ge=1, le=60)
    # Completion date later than the send by at most this (Auth0's and our clocks differ).
    clock_skew_s: int = Field(default=60, ge=0, le=3600)
    # Writes waiting in memory (sent codes, PIN completions); beyond this dropped and counted.
    queue: int = Field(default=10_000, ge=10, le=1_000_000)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    flush_interval_ms: int = Field(default=250, ge=1, le=60_000)
    backfill: FeedbackBackfillSettings = FeedbackBackfillSettings()
