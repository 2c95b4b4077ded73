"""A real HTTP server playing the Auth0 tenant for the PIN step: its JWKS, its `/continue`.

`/continue` checks the gateway's answer the way the Action's `api.redirect.validateToken` does:
HS256 signature with the shared secret, `exp`, and `state` equal to the query's `state`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from gateway.clock import Clock

TENANT = "tenant.example"
SHARED_SECRET = "pin-step-shared-secret-0123456789abcdef"
AUDIENCE = "https://api.example.com"


def pem(key: Any) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def ec_pem() -> str:
    return pem(ec.generate_private_key(ec.SECP256R1()))


def ed_pem() -> str:
    return pem(ed25519.Ed25519PrivateKey.generate())


@dataclass
class FakeAuth0:
    clock: Clock
    secret: str = SHARED_SECRET
    rsa_keys: dict[str, Any] = field(default_factory=dict)
    continued: list[dict[str, Any]] = field(default_factory=list)
    jwks_fetches: int = 0
    # Seconds the JWKS endpoint takes to answer (a slow tenant: concurrent callers overlap).
    jwks_delay_s: float = 0.0

    def __post_init__(self) -> None:
        self.rotate("k1")

    def rotate(self, kid: str) -> None:
        """Add a new RSA signing key (a tenant key rotation); the newest signs."""
        self.rsa_keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current_kid = kid

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self._jwks)
        app.router.add_get("/continue", self._continue)
        return app

    async def _jwks(self, _: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if self.jwks_delay_s:
            await asyncio.sleep(self.jwks_delay_s)
        keys = []
        for kid, key in self.rsa_keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return web.json_response({"keys": keys})

    async def _continue(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "")
        token = request.query.get("session_token", "")
        try:
            payload = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"require": ["exp", "state"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            return web.json_response({"error": f"invalid token: {exc}"}, status=400)
        if payload["exp"] < self.clock.time():
            return web.json_response({"error": "token expired"}, status=400)
        if payload["state"] != state:
            return web.json_response({"error": "state mismatch"}, status=400)
        self.continued.append(payload)
        return web.json_response({"resumed": True, "outcome": payload.get("outcome")})

    def session_token(
        self,
        sub: str = "sms|user-1",
        *,
        ttl: int = 300,
        iss: str = TENANT,
        secret: str | None = None,
        **extra: Any,
    ) -> str:
        """Like the Action's api.redirect.encodeToken: HS256, sub, iss = tenant domain, exp."""
        now = int(self.clock.time())
        payload = {
            "iat": now,
            "iss": iss,
            "sub": sub,
            "exp": now + ttl,
            "ip": "203.0.113.9",
            "jti": uuid.uuid4().hex,
            **extra,
        }
        return jwt.encode(payload, secret or self.secret, algorithm="HS256")

    def access_token(
        self,
        sub: str = "sms|user-1",
        *,
        aud: str = AUDIENCE,
        ttl: int = 600,
        kid: str | None = None,
        iss: str | None = None,
    ) -> str:
        """An Auth0 access token for the API: RS256, iss https://tenant/, aud, exp, kid."""
        kid = kid or self.current_kid
        now = int(self.clock.time())
        payload = {
            "iss": iss or f"https://{TENANT}/",
            "sub": sub,
            "aud": aud,
            "iat": now,
            "exp": now + ttl,
            "scope": "openid",
        }
        return jwt.encode(payload, self.rsa_keys[kid], algorithm="RS256", headers={"kid": kid})


def real_now() -> float:
    return time.time()
