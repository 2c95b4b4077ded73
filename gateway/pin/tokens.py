"""Every token the PIN step reads or writes.

- Session token (from the Auth0 Action's `api.redirect.encodeToken`): HS256 with the shared
  secret; `sub`, `iss` (the tenant domain), `exp` required.
- Answer token (to `https://<tenant>/continue`): HS256 with the same secret, carrying `state`,
  `sub`, `outcome`; what the Action's `api.redirect.validateToken` checks.
- CSRF token of the PIN form: HMAC of a cookie nonce bound to `sub` and `state`.
- Auth0 access tokens for the JSON API: RS256 against the tenant JWKS (cached, refetched on an
  unknown `kid` at a bounded rate).
- Step-up tokens: ES256/EdDSA signed by the gateway, `typ` smsguard-step-up+jwt, their own `aud`;
  public keys at /.well-known/jwks.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.clock import Clock
from gateway.consttime import texts_equal
from gateway.errors import AuthError, SmsGuardError
from gateway.jsontypes import JSONObject

# The `iss` of answer tokens; the Action (deploy/auth0/pin-step.js ANSWER_ISSUER) checks it.
ANSWER_ISSUER = "smsguard"


def expiry(claims: JSONObject) -> float | None:
    """A token's `exp` in unix seconds (a number, or a numeric string), None when it is neither.

    PyJWT leaves `exp` unchecked here: it is compared with the injected clock instead."""
    value = claims.get("exp")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


class TokenError(SmsGuardError):
    """A token is missing, malformed, expired, or not ours. `expired` separates the last case."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


def normalize_issuer(value: str) -> str:
    """'https://acme.eu.auth0.com/' and 'acme.eu.auth0.com' are the same tenant."""
    value = value.strip().lower()
    value = value.removeprefix("https://")
    return value.rstrip("/")


@dataclass(frozen=True)
class Session:
    """What a valid session token says: who logs in, and the token's own id for binding."""

    sub: str
    binding: str
    claims: JSONObject

    @property
    def phone(self) -> str | None:
        """The SMS login's number, when the Action put it in the token (completion feedback)."""
        value = self.claims.get("phone_number")
        return value if isinstance(value, str) and value.startswith("+") else None


class RedirectTokens:
    """Session tokens in, answer tokens out, both HS256 with the secret shared with the Action."""

    def __init__(
        self,
        secret: bytes,
        *,
        tenant_domain: str,
        clock: Clock,
        leeway_s: int = 30,
        answer_ttl_s: int = 120,
    ) -> None:
        self._secret = secret
        self._issuer = normalize_issuer(tenant_domain)
        self._clock = clock
        self._leeway = leeway_s
        self._answer_ttl = answer_ttl_s
        self._csrf_key = hmac.new(secret, b"smsguard pin csrf v1", hashlib.sha256).digest()

    def read_session(self, token: str, *, allow_expired: bool = False) -> Session:
        """Validate an Action's session token; TokenError(expired=True) when only time is wrong."""
        if not token:
            raise TokenError("session_token is missing")
        try:  # time claims are checked against the injected Clock, not PyJWT's time.time()
            claims: JSONObject = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={
                    "require": ["exp", "sub", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError(f"session_token is not valid: {exc}") from None
        if normalize_issuer(str(claims["iss"])) != self._issuer:
            raise TokenError("session_token was issued by another tenant")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise TokenError("session_token has no subject")
        exp = expiry(claims)
        if exp is None:
            raise TokenError("session_token is not valid: exp is not a number")
        expired = exp + self._leeway < self._clock.time()
        binding = str(claims.get("jti") or hashlib.sha256(token.encode()).hexdigest()[:32])
        session = Session(sub=sub, binding=binding, claims=claims)
        if expired and not allow_expired:
            raise TokenError("session_token has expired", expired=True)
        return session

    def answer(self, *, sub: str, state: str, outcome: str) -> str:
        """The token the Action's validateToken reads on /continue."""
        now = int(self._clock.time())
        payload = {
            "iss": ANSWER_ISSUER,
            "sub": sub,
            "state": state,
            "outcome": outcome,
            "iat": now,
            "exp": now + self._answer_ttl,
            "jti": uuid.uuid4().hex,
        }
        if outcome in ("verified", "enrolled"):
            payload["pin_verified_at"] = now
        if outcome == "enrolled":
            payload["pin_enrolled_at"] = now
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def csrf(self, nonce: str, session: Session, state: str) -> str:
        """Form token: binds the cookie nonce to this user, this login (state) and this token."""
        message = "\n".join((nonce, session.sub, state, session.binding)).encode()
        return hmac.new(self._csrf_key, message, hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, sent: str | None, session: Session, state: str) -> bool:
        if not nonce or not sent:
            return False
        return texts_equal(self.csrf(nonce, session, state), sent)

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

    @classmethod
    def from_pem(cls, kid: str, pem: str) -> SigningKey:
        key = load_pem_private_key(pem.encode(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return cls(kid, "ES256", key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return cls(kid, "EdDSA", key)
        raise ValueError(f"signing key {kid}: use an EC P-256 or Ed25519 private key")

    def public_jwk(self) -> JSONObject:
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        else:
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return dict(jwk)


# `typ` header of step-up tokens: never mistaken for an Auth0 access token (`typ` JWT, the API's
# `aud`) by an API that checks it, nor the other way round (RFC 8725 section 3.11).
STEP_UP_TYP = "smsguard-step-up+jwt"


class StepUpSigner:
    """Signs step-up tokens with the first key; publishes every key (old ones during rotation).

    `audience` is the step-up audience (pin.step_up_audience, default api_audience + "#step-up"),
    never the Auth0 API's own, so neither kind of token passes for the other.
    """

    def __init__(
        self, keys: list[SigningKey], *, issuer: str, audience: str, ttl_s: int, clock: Clock
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self._clock = clock

    def sign(self, sub: str, *, method: str = "pin") -> str:
        now = int(self._clock.time())
        key = self.keys[0]
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "pin_verified_at": now,
            "amr": ["sms", method],
        }
        return jwt.encode(
            payload,
            key.private_key,
            algorithm=key.algorithm,
            headers={"kid": key.kid, "typ": STEP_UP_TYP},
        )

    def jwks(self) -> JSONObject:
        return {"keys": [k.public_jwk() for k in self.keys]}


# Refetch the tenant JWKS at least this often, so a key the tenant revoked stops being accepted.
JWKS_MAX_AGE_S = 3600.0


class AccessTokenVerifier:
    """Auth0 access tokens (RS256) against the tenant's JWKS, fetched with the shared session."""

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        jwks_url: str,
        issuer: str,
        audience: str,
        clock: Clock,
        min_refetch_s: float = 30.0,
        leeway_s: int = 30,
    ) -> None:
        self._http = http
        self._url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._min_refetch = min_refetch_s
        self._leeway = leeway_s
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        # How many times the JWKS was fetched (observable: the refetch rate limit).
        self.fetches = 0

    async def _refresh(self) -> None:
        """Fetch the JWKS unless it was fetched within the rate limit.

        Concurrent callers (a cold start, a tenant key rotation) share one fetch: they wait on
        the lock, then find the keys fresh and return, instead of failing on a fetch in flight.
        """
        async with self._lock:
            now = self._clock.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self._min_refetch:
                return
            try:
                await self._fetch()
            finally:  # a failed fetch also counts, so a broken tenant is not hammered
                self._fetched_at = self._clock.monotonic()

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            async with self._http.get(self._url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                if resp.status != 200:
                    raise AuthError(f"cannot fetch the tenant JWKS (HTTP {resp.status})")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AuthError(f"cannot fetch the tenant JWKS: {type(exc).__name__}") from None
        keys: dict[str, RSAPublicKey] = {}
        for jwk in body.get("keys", []) if isinstance(body, dict) else []:
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("kid"):
                key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
                # A JWK with the private part still verifies with its public half.
                keys[str(jwk["kid"])] = key.public_key() if isinstance(key, RSAPrivateKey) else key
        self._keys = keys

    async def verify(self, authorization: str | None) -> JSONObject:
        """Claims of a valid `Authorization: Bearer` access token; AuthError otherwise."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError("send Authorization: Bearer <Auth0 access token>")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the access token is not a JWT") from None
        if header.get("alg") != "RS256":
            raise AuthError("the access token must be signed with RS256")
        kid = str(header.get("kid", ""))
        stale = (
            self._fetched_at is not None
            and self._clock.monotonic() - self._fetched_at > JWKS_MAX_AGE_S
        )
        if kid not in self._keys:
            await self._refresh()
        elif stale:
            with contextlib.suppress(AuthError):  # keep serving with the cached keys meanwhile
                await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise AuthError("the access token is signed with an unknown key")
        try:
            claims: JSONObject = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["exp", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"the access token is not valid: {exc}") from None
        exp = expiry(claims)
        if exp is None:
            raise AuthError("the access token is not valid: exp is not a number")
        if exp + self._leeway < self._clock.time():
            raise AuthError("the access token has expired")
        return claims
