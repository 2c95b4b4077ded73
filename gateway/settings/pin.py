"""Settings of the PIN step (owned by gateway/pin)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from gateway.settings.base import Secret, Section
from gateway.settings.server import RedisConnection


class PinSigningKey(Section):
    # Key id published in /.well-known/jwks.json and put in each step-up token's header.
    kid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    # PEM private key: EC P-256 (signs ES256) or Ed25519 (signs EdDSA); usually {file: PATH}.
    private_key: Secret


class PinSettings(Section):
    """The PIN step (owned by gateway/pin). Off unless `enabled`."""

    enabled: bool = False
    # Tenant domain that issues session and access tokens; default: auth0.tenant_domain.
    tenant_domain: str | None = None
    # HS256 secret shared with the post-login Action (its SMSGUARD_PIN_SECRET); enables GET /pin.
    # At least 32 bytes of random (`openssl rand -base64 48`).
    redirect_secret: Secret | None = None
    # Where the browser resumes the login; default: https://<tenant_domain>/continue.
    continue_url: str | None = None
    # Prefix of the custom claims the Action sets (pin_verified, pin_verified_at).
    claim_namespace: str = "https://smsguard/"
    # Lifetime of the answer token sent back to /continue.
    answer_ttl_s: int = Field(120, ge=10, le=3600)
    # Argon2id cost (OWASP floor: m=19 MiB, t=2, p=1); raising it re-hashes on next success.
    argon2_memory_kib: int = Field(19_456, ge=8_192, le=4_194_304)
    argon2_time_cost: int = Field(2, ge=1, le=20)
    argon2_parallelism: int = Field(1, ge=1, le=16)
    # Optional server-side pepper: PINs are HMAC-SHA256'd with it before hashing.
    pepper: Secret | None = None
    # PIN policy: length bounds, digits only, refuse common/guessable PINs.
    min_length: int = Field(6, ge=4, le=64)
    max_length: int = Field(64, ge=4, le=128)
    digits_only: bool = True
    blocklist: bool = True
    # Extra blocklist file (one PIN per line, `#` comments), added to the shipped list.
    blocklist_file: Path | None = None
    # Consecutive wrong PINs that lock the PIN until an operator resets or unlocks it.
    max_failures: int = Field(5, ge=1, le=100)
    # Delay before the next attempt after the n-th failure: base * 2^(n-1), capped.
    delay_base_s: float = Field(1.0, ge=0, le=3600)
    delay_max_s: float = Field(300.0, ge=0, le=86_400)
    # Wrong PINs from one client IP (any user) per window before that IP is refused.
    ip_max_failures: int = Field(30, ge=1, le=100_000)
    ip_window_s: int = Field(3600, ge=60, le=86_400 * 7)
    # Separate Redis for PIN records (must persist, noeviction); default: redis.url.
    redis_url: str | None = None
    # The PIN records' own Redis in full (mode, TLS, auth ...); `redis_url` is its short form.
    redis: RedisConnection | None = None
    # JSON API: the Auth0 API identifier access tokens must carry in `aud`; enables /v1/pin.
    api_audience: str | None = None
    # Tenant JWKS; default: https://<tenant_domain>/.well-known/jwks.json.
    jwks_url: str | None = None
    # Refetch the JWKS on an unknown `kid` at most this often.
    jwks_min_refetch_s: float = Field(30.0, ge=1, le=3600)
    # Step-up token signing keys: the first signs, all are published (rotation).
    signing_keys: list[PinSigningKey] = []
    # Step-up token lifetime.
    step_up_ttl_s: int = Field(300, ge=30, le=86_400)
    # `aud` of step-up tokens, distinct from the Auth0 API's; default: api_audience + "#step-up".
    step_up_audience: str | None = None
    # Argon2 verifications running at once (each ~20 MiB and one core for ~100 ms).
    verify_concurrency: int = Field(2, ge=1, le=64)
    # Reverse proxies in front of the gateway that append to X-Forwarded-For (0: use the peer).
    trusted_proxy_hops: int = Field(0, ge=0, le=10)

    @field_validator("redirect_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # A short secret can be brute-forced offline from a user's own session token, and then
        # forges "verified" answers for anyone.
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes: use `openssl rand -base64 48`")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PinSettings:
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")
        if self.enabled and not (self.redirect_secret or self.api_audience):
            raise ValueError("pin.enabled needs redirect_secret (browser step) or api_audience")
        if self.api_audience and not self.signing_keys:
            raise ValueError("api_audience needs at least one signing key (signing_keys)")
        kids = [k.kid for k in self.signing_keys]
        if len(set(kids)) != len(kids):
            raise ValueError("signing_keys: every kid must be unique")
        if self.api_audience and self.step_up_audience == self.api_audience:
            raise ValueError("step_up_audience must differ from api_audience")
        return self
