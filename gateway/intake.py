"""Intake: is this request from our Auth0 tenant, and is it a well-formed message?

Two payload shapes arrive at POST /sms:
- the legacy `sms_gateway` connection with `forward_req_info`:
  {"recipient", "body", "sender", "req": {"ip", "user-agent", "x-request-language"?}}
- what a `custom-phone-provider` Action forwards (Auth0's migration sample plus our extras):
  {"recipient", "body", "sender", "req": {"ip", "user_agent", "language", "geoip": {...}},
   "message_type", "locale", "delivery_method", "client_id", "correlation_id"}
Numbers are normalised to E.164 (Auth0's own examples contain spaces). Text must be Unicode: a
lone surrogate escape ("\\ud800"), which JSON allows but no encoding of a provider request
does, is refused with 400 naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re

import phonenumbers

from gateway.b64 import b64url_decode
from gateway.clock import Clock
from gateway.errors import AuthError, IntakeError
from gateway.jsontypes import JSON, JSONObject
from gateway.models import PayloadShape, SmsRequest
from gateway.phone import phone_facts
from gateway.settings import Auth0Settings, IntakeSettings

_OPTIONAL_TOP = ("message_type", "locale", "delivery_method", "client_id", "correlation_id")
_PHONE_PROVIDER_MARKERS = {"user_agent", "geoip", "language", "method", "hostname"}


class TokenVerifier:
    """Checks Auth0's `Authorization: Bearer <JWT>`: HMAC, audience, subject, `exp` (required
    unless `auth0.require_exp` is false), `nbf`/`iat` when present, no unknown `crit` extension.

    Deliberately narrow (compact JWS, HMAC only) rather than a general JWT library: it runs for
    every request of an attack, and a general decoder costs ~85 us against ~10 us here. The tests
    check it against PyJWT's verdicts on valid, tampered and hostile tokens.
    """

    def __init__(self, settings: Auth0Settings, clock: Clock) -> None:
        self._audience = settings.audience
        self._subject = settings.subject
        self._leeway = settings.leeway_s
        self._require_exp = settings.require_exp
        self._clock = clock
        secret = settings.gateway_secret.get_secret_value() if settings.gateway_secret else None
        self._key: bytes | None = None
        if secret is not None:
            self._key = b64url_decode(secret) if settings.secret_base64_encoded else secret.encode()

    @property
    def configured(self) -> bool:
        return self._key is not None

    def verify(self, authorization: str | None) -> JSONObject:
        if self._key is None:
            raise AuthError("the gateway has no auth0.gateway_secret configured")
        if not authorization:
            raise AuthError("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization must be 'Bearer <JWT>'")
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthError("malformed JWT")
        header_b64, payload_b64, signature_b64 = parts
        header = _json_segment(header_b64)
        alg = header.get("alg")
        digest = _HMAC_DIGESTS.get(alg) if isinstance(alg, str) else None
        if digest is None:
            raise AuthError(f"JWT algorithm {alg!r} is not accepted (HMAC only)")
        if "crit" in header:
            # RFC 7515 section 4.1.11: extensions listed as critical must be understood, and this
            # verifier understands none.
            raise AuthError("JWT header lists critical extensions (crit) that are not supported")
        try:
            signature = b64url_decode(signature_b64)
        except ValueError as exc:
            raise AuthError("malformed JWT") from exc
        expected = hmac.new(self._key, f"{header_b64}.{payload_b64}".encode(), digest).digest()
        if not hmac.compare_digest(expected, signature):
            raise AuthError("JWT signature does not match")
        claims = _json_segment(payload_b64)
        self._check_claims(claims, self._clock.time())
        return claims

    def _check_claims(self, claims: JSONObject, now: float) -> None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if aud is None or self._audience not in audiences:
            raise AuthError("JWT audience does not match")
        if claims.get("sub") != self._subject:
            raise AuthError("JWT subject does not match")
        times: dict[str, float] = {}
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise AuthError(f"invalid JWT: {name} must be a number")
            times[name] = value
        exp, nbf, iat = times.get("exp"), times.get("nbf"), times.get("iat")
        if exp is None and self._require_exp:
            # A token without exp never expires: once stolen, valid forever.
            raise AuthError("JWT has no exp (set auth0.require_exp: false to accept that)")
        if exp is not None and now > exp + self._leeway:
            raise AuthError("JWT expired")
        if nbf is not None and now < nbf - self._leeway:
            raise AuthError("invalid JWT: not valid yet (nbf)")
        if iat is not None and now < iat - self._leeway:
            raise AuthError("invalid JWT: issued in the future (iat)")


_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _json_segment(segment: str) -> JSONObject:
    try:
        value = json.loads(b64url_decode(segment))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AuthError("malformed JWT") from exc
    if not isinstance(value, dict):
        raise AuthError("malformed JWT")
    return value


class PayloadParser:
    """Turns a JSON body into a validated SmsRequest; every refusal names the field."""

    def __init__(self, settings: IntakeSettings) -> None:
        self._default_region = settings.default_region

    def parse(self, raw: bytes, *, request_id: str, received_at: float) -> SmsRequest:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            where = f" at line {exc.lineno} column {exc.colno}"
            raise IntakeError(400, f"body is not valid JSON{where}", field="body") from None
        except UnicodeDecodeError:
            raise IntakeError(400, "body is not valid JSON (not UTF-8)", field="body") from None
        except ValueError as exc:
            # Python's own limits, e.g. an integer of over 4,300 digits.
            reason = str(exc).split(";", 1)[0]
            raise IntakeError(400, f"body is not valid JSON ({reason})", field="body") from None
        except RecursionError:
            raise IntakeError(400, "body is nested too deeply", field="body") from None
        if not isinstance(data, dict):
            raise IntakeError(400, "body must be a JSON object", field="body")
        culprit = _lone_surrogate(data) if _SURROGATE_ESCAPE.search(raw) else None
        if culprit is not None:
            message = "contains a lone UTF-16 surrogate (\\ud800-\\udfff): not text"
            raise IntakeError(400, message, field=culprit[:100])

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
        if len(raw) > MAX_RECIPIENT_CHARS:
            raise IntakeError(
                400, f"longer than {MAX_RECIPIENT_CHARS} characters", field="recipient"
            )
        # Spaces of every kind (Auth0's examples use them), dashes, dots and brackets go.
        cleaned = "".join(ch for ch in raw if not (ch.isspace() or ch in _NUMBER_PUNCTUATION))
        if cleaned.startswith("00"):
            cleaned = "+" + cleaned[2:]
        if not cleaned.startswith("+"):
            if self._default_region is None:
                raise IntakeError(
                    400, "must be in international format (+<country code>...)", field="recipient"
                )
            cleaned = self._international(cleaned)
        # The cached parse that signals reuses: a number costs one parse on the whole path.
        facts = phone_facts(cleaned)
        if facts.calling_code is None:
            raise IntakeError(
                400, f"not a phone number ({_parse_error(cleaned)})", field="recipient"
            )
        return facts.e164

    def _international(self, national: str) -> str:
        try:
            number = phonenumbers.parse(national, self._default_region)
        except phonenumbers.NumberParseException as exc:
            raise IntakeError(400, f"not a phone number ({exc._msg})", field="recipient") from exc
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# E.164 is at most 15 digits; written out with spaces and punctuation it stays well under this.
MAX_RECIPIENT_CHARS = 40
_NUMBER_PUNCTUATION = frozenset("-().\u200b\u2010\u2011\u2012\u2013\u2212")


def _parse_error(number: str) -> str:
    """Why phonenumbers refuses a number (only on the refusal path: facts are cached without it)."""
    try:
        phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        return str(exc._msg)
    return "no country calling code"


# A \uD800-\uDFFF escape in the raw body: only then can a parsed string hold a lone surrogate
# (raw UTF-8 cannot encode one, and a valid pair is decoded into one character).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(data: JSONObject) -> str | None:
    """The dotted path of the first key or string holding a lone surrogate, or None.

    Iterative: a body may nest deeper than Python's recursion limit."""
    stack: list[tuple[str, JSON]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    return path or "body"
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(value))
    return None


def _required_str(data: JSONObject, key: str) -> str:
    value = data.get(key)
    if value is None:
        raise IntakeError(400, "is required", field=key)
    if not isinstance(value, str) or not value.strip():
        raise IntakeError(400, "must be a non-empty string", field=key)
    return value


def _optional_str(data: JSONObject, key: str, prefix: str = "") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeError(400, "must be a string", field=prefix + key)
    return value or None
