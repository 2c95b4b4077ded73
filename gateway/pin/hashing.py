"""Argon2id hashing of PINs, off the event loop and bounded in concurrency.

One verification costs ~20 MiB and a core for ~100 ms (OWASP floor m=19 MiB, t=2, p=1), so it runs
in a small thread pool (argon2-cffi releases the GIL) behind a semaphore: a burst of PIN attempts
queues here instead of starving SMS logins on the event loop. With a pepper, the PIN is first
HMAC-SHA256'd with it, so a stolen Redis dump alone cannot be brute-forced.

When a user has no PIN, `verify(None, pin)` checks against a dummy hash made with the same
parameters: the answer takes as long as a real one, so timing does not reveal enrollment.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's equivalent Argon2id minimums (memory KiB, passes); more passes allow less memory.
OWASP_FLOORS = ((47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5))


def below_owasp_floor(memory_kib: int, time_cost: int) -> bool:
    """True when (m, t) meets none of OWASP's Argon2id configurations (e.g. m < 46 MiB with t=1)."""
    return not any(memory_kib >= m and time_cost >= t for m, t in OWASP_FLOORS)


class PinHasher:
    def __init__(
        self,
        *,
        memory_kib: int = 19_456,
        time_cost: int = 2,
        parallelism: int = 1,
        pepper: bytes | None = None,
        concurrency: int = 2,
    ) -> None:
        self._ph = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._pepper = pepper
        self._semaphore = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._dummy: str | None = None
        # How many Argon2 verifications ran, real or dummy (observable in tests and metrics).
        self.verifications = 0
        self.dummy_verifications = 0

    def _prepare(self, pin: str) -> bytes:
        data = pin.encode("utf-8")
        if self._pepper:
            return hmac.new(self._pepper, data, hashlib.sha256).hexdigest().encode()
        return data

    async def _run(self, fn: object, *args: object) -> object:
        async with self._semaphore:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]

    async def hash(self, pin: str) -> str:
        """A new Argon2id hash (random salt) of the PIN."""
        result = await self._run(self._ph.hash, self._prepare(pin))
        return str(result)

    async def verify(self, stored: str | None, pin: str) -> bool:
        """True when `pin` matches `stored`; with no stored hash, spend the same work and fail."""
        self.verifications += 1
        if stored is None:
            self.dummy_verifications += 1
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            stored = self._dummy
            await self._run(self._check, stored, self._prepare(pin))
            return False
        return bool(await self._run(self._check, stored, self._prepare(pin)))

    def _check(self, stored: str, data: bytes) -> bool:
        try:
            return bool(self._ph.verify(stored, data))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when the stored hash was made with other parameters than the current ones."""
        try:
            return bool(self._ph.check_needs_rehash(stored))
        except InvalidHashError:
            return True

    async def warm_up(self) -> None:
        """Make the dummy hash now, so the first missing-PIN check costs the same as the rest."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
