"""Settings of the dashboard (owned by gateway/dashboard)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from gateway.settings.base import Secret, Section


class DashboardUser(Section):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    # Argon2id hash from `smsguard dashboard hash-password` (a string, {env: NAME} or {file: PATH}).
    password_hash: Secret

    @field_validator("password_hash")
    @classmethod
    def _argon2id(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("$argon2id$"):
            raise ValueError(
                "must be an Argon2id hash ($argon2id$...): run `smsguard dashboard hash-password`"
            )
        return value


class DashboardSettings(Section):
    """The security team's dashboard (owned by gateway/dashboard). Off without users."""

    # Who may log in; with no users the dashboard is off (404).
    users: list[DashboardUser] = []
    # Send the session cookie only over HTTPS; set false for plain-http local development only.
    cookie_secure: bool = True
    # A session ends after this many idle minutes, and in any case this many hours after login.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    # Login attempts allowed per client IP within the window before 429 (successes are given back).
    login_attempts: int = Field(default=5, ge=1, le=1000)
    login_window_s: int = Field(default=300, ge=10, le=86_400)
    # Failures for one username from one client IP: from the second, wait base * 2^(n-2) seconds
    # (at most max) before the next try; other IPs are not affected (no lock-out of the team).
    login_delay_base_s: float = Field(default=1.0, ge=0, le=3600)
    login_delay_max_s: float = Field(default=300.0, ge=0, le=86_400)
    # Reverse proxies in front of the dashboard that append to X-Forwarded-For (0: use the peer).
    trusted_proxy_hops: int = Field(0, ge=0, le=10)
    # Seconds between live updates of the overview and events pages.
    refresh_s: int = Field(default=5, ge=1, le=3600)
    # Every instance re-reads the whole override list this often (pub/sub applies changes at once).
    overrides_refresh_s: float = Field(default=30.0, gt=0, le=3600)
