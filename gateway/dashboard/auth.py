"""Dashboard access: Argon2id passwords, server-side sessions in Redis, CSRF tokens, login limits.

A session is a random 256-bit id in a `Secure; HttpOnly; SameSite=Strict` cookie scoped to
/dashboard; Redis holds only its SHA-256 (`smsguard:dash:session:<sha256>`: user, CSRF token,
created, last seen), with an idle TTL refreshed on use and an absolute lifetime checked on every
request. Every state-changing form carries the session's CSRF token (synchronizer token); the
login form, before any session exists, uses a double-submit cookie. A session also holds a short
hash of its user's password hash: it ends when the user is removed from the settings or gets a new
password.

Login attempts are counted *before* the password is checked, in one Lua script, so parallel guesses
cannot slip past the limits while Argon2 runs: per client IP in a fixed window (429 over the
limit), and per (username, client IP) with a growing delay between tries. A success gives its
attempt back. Nobody can lock a username for everyone: the delay applies to one client IP only.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis

from gateway.clock import Clock
from gateway.consttime import texts_equal
from gateway.settings import DashboardSettings

COOKIE = "smsguard_session"
LOGIN_COOKIE = "smsguard_login"
COOKIE_PATH = "/dashboard"
SESSION_PREFIX = "smsguard:dash:session:"
LOGIN_FAIL_PREFIX = "smsguard:dash:{loginfail}:"  # one slot: a script reads IP and pair

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
    # A short hash of the user's password hash at login ("" in sessions from before it existed).
    pw: str = ""


def password_tag(password_hash: str) -> str:
    """A short, non-reversible tag of a stored password hash (kept in the session)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


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

    def tag(self, username: str) -> str | None:
        """The password tag of a configured user; None when the user is not configured."""
        stored = self._hashes.get(username)
        return password_tag(stored) if stored is not None else None

    def session_valid(self, session: Session) -> bool:
        """The session's user is still configured, with the password they logged in with."""
        tag = self.tag(session.user)
        return tag is not None and texts_equal(tag, session.pw)

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

    async def create(self, user: str, pw: str) -> tuple[str, Session]:
        """A new session (never reuse one from before login); returns the cookie value with it.

        `pw` is the password tag of the user (see `password_tag`)."""
        token = secrets.token_urlsafe(32)
        now = self._clock.time()
        session = Session(self._hash(token), user, secrets.token_urlsafe(32), now, pw)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            self._key(session.id_hash),
            mapping={
                "user": user,
                "csrf": session.csrf,
                "created": repr(now),
                "seen": repr(now),
                "pw": pw,
            },
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
        raw: dict[bytes, bytes]
        raw, _ = await pipe.execute()
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        created = float(data.get("created", "0"))
        if self._clock.time() - created > self.max_s:
            await self._redis.delete(key)
            return None
        return Session(id_hash, data["user"], data["csrf"], created, data.get("pw", ""))

    async def destroy(self, session: Session) -> None:
        await self._redis.delete(self._key(session.id_hash))


# KEYS: per-IP counter, per-(username, IP) hash. ARGV: now, IP limit, window, delay base, cap.
# Counts the attempt as a failure in advance; the login gives it back on success.
_BEGIN = """
local now = tonumber(ARGV[1])
local ip_max = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local ip_count = tonumber(redis.call('GET', KEYS[1]) or '0')
if ip_count >= ip_max then return {'ip', tostring(redis.call('TTL', KEYS[1]))} end
local next_at = tonumber(redis.call('HGET', KEYS[2], 'next_at') or '0')
if now < next_at then return {'wait', tostring(next_at - now)} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], window) end
local n = redis.call('HINCRBY', KEYS[2], 'failures', 1)
local delay = 0
if n >= 2 then delay = math.min(base * math.pow(2, n - 2), cap) end
redis.call('HSET', KEYS[2], 'next_at', tostring(now + delay))
redis.call('EXPIRE', KEYS[2], math.max(window, math.ceil(delay)))
return {'go', '0'}
"""

_SUCCEED = """
redis.call('DEL', KEYS[2])
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class LoginGate:
    """May this login attempt check a password? If not, why and for how long."""

    allowed: bool
    why: str = ""  # "ip": the client IP is over its limit; "wait": this username+IP must wait
    wait_s: float = 0.0


class LoginLimiter:
    """Login attempts per client IP (fixed window) and per (username, client IP) (growing delay)."""

    def __init__(self, redis: Redis, settings: DashboardSettings, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock
        self._max = settings.login_attempts
        self._window = settings.login_window_s
        self._base = settings.login_delay_base_s
        self._cap = settings.login_delay_max_s

    @staticmethod
    def _keys(ip: str, username: str) -> list[str]:
        pair = hashlib.sha256(f"{username}\0{ip}".encode()).hexdigest()[:32]
        return [f"{LOGIN_FAIL_PREFIX}ip:{ip}", f"{LOGIN_FAIL_PREFIX}pair:{pair}"]

    async def begin(self, ip: str, username: str) -> LoginGate:
        """Check the limits and, when allowed, count this attempt as a failure in advance."""
        raw: list[bytes | str] = await self._redis.eval(
            _BEGIN,
            2,
            *self._keys(ip, username),
            repr(self._clock.time()),
            self._max,
            self._window,
            repr(self._base),
            repr(self._cap),
        )
        why, wait = (x.decode() if isinstance(x, bytes) else str(x) for x in raw)
        if why == "go":
            return LoginGate(True)
        return LoginGate(False, why, max(float(wait), 0.0))

    async def succeeded(self, ip: str, username: str) -> None:
        """The password was right: give the attempt back and clear this username+IP's delay."""
        await self._redis.eval(_SUCCEED, 2, *self._keys(ip, username))


def csrf_ok(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(given) and texts_equal(expected, given)


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
