"""Settings of the intake stage: who may call POST /sms (Auth0) and what a request may be."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from gateway.b64 import b64url_decode
from gateway.settings.base import Secret, Section


class Auth0Settings(Section):
    gateway_secret: Secret | None = None
    audience: str = "urn:MySmsGateway"
    subject: str = "urn:Auth0"
    secret_base64_encoded: bool = False
    # Accepted clock skew for `iat`/`exp`/`nbf` when Auth0 includes them.
    leeway_s: int = Field(30, ge=0, le=600)
    # Refuse tokens without `exp` (one that never expires is valid forever once stolen). Set to
    # false only if your tenant's tokens carry no `exp`.
    require_exp: bool = True
    # The tenant's domain ("acme.eu.auth0.com"): issuer of PIN-step and access tokens.
    tenant_domain: str | None = None

    @model_validator(mode="after")
    def _secret_decodes(self) -> Auth0Settings:
        if self.secret_base64_encoded and self.gateway_secret is not None:
            try:
                b64url_decode(self.gateway_secret.get_secret_value())
            except ValueError:
                raise ValueError(
                    "gateway_secret is not base64url, but secret_base64_encoded is true"
                ) from None
        return self


class IntakeSettings(Section):
    # Answer Auth0 within this many seconds (Auth0 itself gives up at 30).
    deadline_s: float = Field(10.0, gt=0, le=29)
    max_body_bytes: int = Field(8192, ge=256, le=1_048_576)
    # Region assumed for numbers written without a leading "+"; None refuses them.
    default_region: str | None = None

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        import phonenumbers

        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region phonenumbers knows (e.g. GB, US)")
        return region
