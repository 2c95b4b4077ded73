"""Argon2id hashing of PINs: parameters, pepper, re-hash, dummy work for missing PINs."""

from __future__ import annotations

import asyncio

from gateway.pin.hashing import PinHasher

CHEAP = {"memory_kib": 8192, "time_cost": 1}


async def test_hash_is_argon2id_with_the_configured_cost() -> None:
    """Hashes are Argon2id with the configured m/t/p, and the PIN itself is not in them."""
    hasher = PinHasher(memory_kib=8192, time_cost=1, parallelism=1)
    hashed = await hasher.hash("839201")
    assert hashed.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert "839201" not in hashed
    assert await hasher.verify(hashed, "839201")
    assert not await hasher.verify(hashed, "839202")
    hasher.close()


async def test_default_parameters_meet_the_owasp_floor() -> None:
    """Defaults are m=19 MiB, t=2, p=1 (OWASP's Argon2id minimum)."""
    hasher = PinHasher()
    hashed = await hasher.hash("839201")
    assert "$m=19456,t=2,p=1$" in hashed
    hasher.close()


async def test_pepper_is_needed_to_verify() -> None:
    """A hash made with a pepper does not verify without it (a Redis dump alone is not enough)."""
    peppered = PinHasher(pepper=b"server-side-pepper", **CHEAP)  # type: ignore[arg-type]
    plain = PinHasher(**CHEAP)  # type: ignore[arg-type]
    hashed = await peppered.hash("839201")
    assert await peppered.verify(hashed, "839201")
    assert not await plain.verify(hashed, "839201")
    peppered.close()
    plain.close()


async def test_missing_pin_runs_a_dummy_verification() -> None:
    """verify(None, pin) does the Argon2 work on a dummy hash and returns False."""
    hasher = PinHasher(**CHEAP)  # type: ignore[arg-type]
    assert not await hasher.verify(None, "839201")
    assert (hasher.verifications, hasher.dummy_verifications) == (1, 1)
    hasher.close()


async def test_stronger_parameters_flag_old_hashes_for_rehash() -> None:
    """After raising the cost, old hashes need a re-hash (done on the next success)."""
    old = PinHasher(**CHEAP)  # type: ignore[arg-type]
    new = PinHasher(memory_kib=8192, time_cost=2)
    hashed = await old.hash("839201")
    assert new.needs_rehash(hashed)
    assert not old.needs_rehash(hashed)
    old.close()
    new.close()


async def test_concurrent_verifications_all_complete() -> None:
    """More verifications than the concurrency cap queue up and all finish correctly."""
    hasher = PinHasher(concurrency=2, **CHEAP)  # type: ignore[arg-type]
    hashed = await hasher.hash("839201")
    results = await asyncio.gather(*(hasher.verify(hashed, p) for p in ["839201", "1"] * 4))
    assert results == [True, False] * 4
    hasher.close()
