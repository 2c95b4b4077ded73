"""Dashboard access: Argon2id passwords, server-side sessions in Redis, CSRF tokens, login limits.

A session is a random 256-bit id in a `Secure; HttpOnly; SameSite=Strict` cookie scoped to
/dashboard; Redis holds only its SHA-256 (`smsguard:dash:session:<sha256>`: user, CSRF token,
created, last seen), with an idle TTL refreshed on use and an absolute lifetime checked on every
request. Every state-changing form carries the session's CSRF token (synchronizer token); the
login form, before any session exists, uses a double-submit cookie. Failed logins are counted per
client IP and per username in fixed windows; over the limit the login answers 429 without checking
a password.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis

from gateway.clock import Clock
from gateway.settings import DashboardSettings

COOKIE = "smsguard_session"
LOGIN_COOKIE = "smsguard_login"
COOKIE_PATH = "/dashboard"
SESSION_PREFIX = "smsguard:dash:session:"
LOGIN_FAIL_PREFIX = "smsguard:dash:loginfail:"

# Argon2 is deliberately expensive (~0.1 s and more than a core per check): a few at a time.
_VERIFY_CONCURRENCY = 2


def hash_password(password: str) -> str:
    """An Argon2id hash of `password` with the library's recommended parameters."""
    return PasswordHasher().hash(password)


def dev_user(password: str, username: str = "admin") -> dict[str, str]:
    """A `dashboard.users` entry for local development (`smsguard dev` prints the password once)."""
    return {"username": username, "password_hash": hash_password(password)}


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    user: str
    csrf: str
    created: float


class Authenticator:
    """Checks usernames and passwords from the settings; constant work for unknown users."""

    def __init__(self, settings: DashboardSettings) -> None:
        self._hashes = {u.username: u.password_hash.get_secret_value() for u in settings.users}
        self._hasher = PasswordHasher()
        # Unknown users are checked against a real hash too, so timing does not reveal names.
        self._decoy = next(iter(self._hashes.values()), "")
        self._gate = asyncio.Semaphore(_VERIFY_CONCURRENCY)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def check(self, username: str, password: str) -> bool:
        stored = self._hashes.get(username)
        async with self._gate:
            ok = await asyncio.to_thread(self._verify, stored or self._decoy, password)
        return ok and stored is not None


class SessionStore:
    """Sessions in Redis, keyed by the SHA-256 of the cookie value."""

    def __init__(self, redis: Redis, settings: DashboardSettings, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock
        self.idle_s = settings.session_idle_minutes * 60
        self.max_s = settings.session_max_hours * 3600

    @staticmethod
    def _key(id_hash: str) -> str:
        return SESSION_PREFIX + id_hash

    @staticmethod
    def _hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def create(self, user: str) -> tuple[str, Session]:
        """A new session (never reuse one from before login); returns the cookie value with it."""
        token = secrets.token_urlsafe(32)
        now = self._clock.time()
        session = Session(self._hash(token), user, secrets.token_urlsafe(32), now)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            self._key(session.id_hash),
            mapping={"user": user, "csrf": session.csrf, "created": repr(now), "seen": repr(now)},
        )
        pipe.expire(self._key(session.id_hash), self.idle_s)
        await pipe.execute()
        return token, session

    async def load(self, token: str | None) -> Session | None:
        """The live session for a cookie value, touching its idle timer; None when gone/expired."""
        if not token or len(token) > 128:
            return None
        id_hash = self._hash(token)
        key = self._key(id_hash)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(key)
        pipe.expire(key, self.idle_s, xx=True)
        raw: Any
        raw, _ = await pipe.execute()
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        created = float(data.get("created", "0"))
        if self._clock.time() - created > self.max_s:
            await self._redis.delete(key)
            return None
        return Session(id_hash, data["user"], data["csrf"], created)

    async def destroy(self, session: Session) -> None:
        await self._redis.delete(self._key(session.id_hash))


class LoginLimiter:
    """Failed logins per client IP and per username in a fixed window."""

    def __init__(self, redis: Redis, settings: DashboardSettings) -> None:
        self._redis = redis
        self._max = settings.login_attempts
        self._window = settings.login_window_s

    def _keys(self, ip: str, username: str) -> list[str]:
        name = hashlib.sha256(username.encode()).hexdigest()[:32]
        return [f"{LOGIN_FAIL_PREFIX}ip:{ip}", f"{LOGIN_FAIL_PREFIX}user:{name}"]

    async def blocked(self, ip: str, username: str) -> bool:
        counts: list[Any] = await self._redis.mget(self._keys(ip, username))
        return any(c is not None and int(c) >= self._max for c in counts)

    async def failed(self, ip: str, username: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in self._keys(ip, username):
            pipe.incr(key)
            pipe.expire(key, self._window, nx=True)
        await pipe.execute()

    async def succeeded(self, ip: str, username: str) -> None:
        await self._redis.delete(self._keys(ip, username)[1])


def csrf_ok(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given)


def set_cookie(
    response: web.StreamResponse, name: str, value: str, *, secure: bool, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="Strict",
        max_age=max_age,
    )


AuthedHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
