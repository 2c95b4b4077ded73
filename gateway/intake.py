"""Intake: is this request from our Auth0 tenant, and is it a well-formed message?

Two payload shapes arrive at POST /sms:
- the legacy `sms_gateway` connection with `forward_req_info`:
  {"recipient", "body", "sender", "req": {"ip", "user-agent", "x-request-language"?}}
- what a `custom-phone-provider` Action forwards (Auth0's migration sample plus our extras):
  {"recipient", "body", "sender", "req": {"ip", "user_agent", "language", "geoip": {...}},
   "message_type", "locale", "delivery_method", "client_id", "correlation_id"}
Numbers are normalised to E.164 (Auth0's own examples contain spaces).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from typing import Any

import jwt
import phonenumbers

from gateway.errors import AuthError, IntakeError
from gateway.models import PayloadShape, SmsRequest
from gateway.settings import Auth0Settings, IntakeSettings

# Shared-secret tokens only: `none` and asymmetric algorithms (where the secret would be misused
# as a public key) are refused before any signature work.
HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"]
_OPTIONAL_TOP = ("message_type", "locale", "delivery_method", "client_id", "correlation_id")
_PHONE_PROVIDER_MARKERS = {"user_agent", "geoip", "language", "method", "hostname"}


class TokenVerifier:
    """Checks Auth0's `Authorization: Bearer <JWT>`: HMAC, audience, subject, iat/exp if present."""

    def __init__(self, settings: Auth0Settings) -> None:
        self._audience = settings.audience
        self._subject = settings.subject
        self._leeway = settings.leeway_s
        secret = settings.gateway_secret.get_secret_value() if settings.gateway_secret else None
        self._key: bytes | None = None
        if secret is not None:
            self._key = (
                _b64url_decode(secret) if settings.secret_base64_encoded else secret.encode()
            )

    @property
    def configured(self) -> bool:
        return self._key is not None

    def verify(self, authorization: str | None) -> dict[str, Any]:
        if self._key is None:
            raise AuthError("the gateway has no auth0.gateway_secret configured")
        if not authorization:
            raise AuthError("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization must be 'Bearer <JWT>'")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise AuthError("malformed JWT") from exc
        if header.get("alg") not in HMAC_ALGORITHMS:
            raise AuthError(f"JWT algorithm {header.get('alg')!r} is not accepted (HMAC only)")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=HMAC_ALGORITHMS,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["aud", "sub"], "verify_iat": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("JWT expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("JWT audience does not match") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("JWT signature does not match") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid JWT: {exc}") from exc
        if claims.get("sub") != self._subject:
            raise AuthError("JWT subject does not match")
        return claims


def _b64url_decode(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("auth0.gateway_secret is not valid base64url") from exc


class PayloadParser:
    """Turns a JSON body into a validated SmsRequest; every refusal names the field."""

    def __init__(self, settings: IntakeSettings) -> None:
        self._default_region = settings.default_region

    def parse(self, raw: bytes, *, request_id: str, received_at: float) -> SmsRequest:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = (
                f" at line {exc.lineno} column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise IntakeError(400, f"body is not valid JSON{where}", field="body") from exc
        if not isinstance(data, dict):
            raise IntakeError(400, "body must be a JSON object", field="body")

        recipient = self._phone(_required_str(data, "recipient"))
        body = _required_str(data, "body")
        sender = _optional_str(data, "sender")
        req = data.get("req")
        if req is None:
            req = {}
        elif not isinstance(req, dict):
            raise IntakeError(400, "must be an object", field="req")
        ip = _optional_str(req, "ip", prefix="req.")
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip.strip()))
            except ValueError as exc:
                raise IntakeError(400, "not an IP address", field="req.ip") from exc
        user_agent = _optional_str(req, "user-agent", prefix="req.") or _optional_str(
            req, "user_agent", prefix="req."
        )
        language = _optional_str(req, "x-request-language", prefix="req.") or _optional_str(
            req, "language", prefix="req."
        )
        geoip = req.get("geoip")
        if geoip is not None and not isinstance(geoip, dict):
            raise IntakeError(400, "must be an object", field="req.geoip")
        extras = {key: _optional_str(data, key) for key in _OPTIONAL_TOP}
        if extras["delivery_method"] not in (None, "text", "sms"):
            raise IntakeError(
                400, "only text delivery is supported by this gateway", field="delivery_method"
            )
        shape: PayloadShape = (
            "phone_provider"
            if _PHONE_PROVIDER_MARKERS & req.keys() or any(extras.values())
            else "sms_gateway"
        )
        return SmsRequest(
            request_id=request_id,
            received_at=received_at,
            shape=shape,
            recipient=recipient,
            body=body,
            sender=sender,
            ip=ip,
            user_agent=user_agent,
            language=language,
            auth0_geoip=geoip,
            **extras,
        )

    def _phone(self, raw: str) -> str:
        cleaned = "".join(ch for ch in raw if ch not in " -().\u00a0\t")
        if cleaned.startswith("00"):
            cleaned = "+" + cleaned[2:]
        if not cleaned.startswith("+") and self._default_region is None:
            raise IntakeError(
                400, "must be in international format (+<country code>...)", field="recipient"
            )
        try:
            number = phonenumbers.parse(cleaned, self._default_region)
        except phonenumbers.NumberParseException as exc:
            raise IntakeError(400, f"not a phone number ({exc._msg})", field="recipient") from exc
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _required_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        raise IntakeError(400, "is required", field=key)
    if not isinstance(value, str) or not value.strip():
        raise IntakeError(400, "must be a non-empty string", field=key)
    return value


def _optional_str(data: dict[str, Any], key: str, prefix: str = "") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeError(400, "must be a string", field=prefix + key)
    return value or None
