"""PinService on a real Redis: limits hold under parallel guesses, records stay consistent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.pin.hashing import PinHasher
from gateway.pin.policy import PinPolicy
from gateway.pin.service import PinService
from gateway.pin.store import PinStore


@pytest.fixture
async def service(redis_url: str) -> AsyncIterator[PinService]:
    redis: Redis = Redis.from_url(redis_url)
    hasher = PinHasher(memory_kib=8192, time_cost=1, concurrency=4)
    yield PinService(
        store=PinStore(redis, max_failures=3, delay_base_s=0, ip_max_failures=100),
        hasher=hasher,
        policy=PinPolicy(),
        clock=FakeClock(),
    )
    hasher.close()
    await redis.aclose()


async def test_parallel_guesses_cannot_exceed_the_limit(service: PinService) -> None:
    """Ten simultaneous wrong guesses: only three reach Argon2, the rest are refused as locked."""
    assert await service.enroll("sms|u", "839201") is None
    before = service.hasher.verifications
    results = await asyncio.gather(
        *(service.verify("sms|u", f"10000{i}", "198.51.100.7") for i in range(10))
    )
    outcomes = sorted(r.outcome for r in results)
    assert outcomes.count("wrong") == 2
    assert outcomes.count("locked") == 8
    assert service.hasher.verifications - before == 3


async def test_right_pin_after_the_lock_is_still_refused(service: PinService) -> None:
    """Once locked, the correct PIN is refused without running Argon2."""
    await service.enroll("sms|u", "839201")
    for i in range(3):
        await service.verify("sms|u", f"10000{i}", "198.51.100.7")
    before = service.hasher.verifications
    assert (await service.verify("sms|u", "839201", "198.51.100.7")).outcome == "locked"
    assert service.hasher.verifications == before


async def test_unlock_keeps_the_pin_usable(service: PinService) -> None:
    """After an operator unlock the same PIN verifies again."""
    await service.enroll("sms|u", "839201")
    for i in range(3):
        await service.verify("sms|u", f"10000{i}", "198.51.100.7")
    assert await service.store.unlock("sms|u")
    assert (await service.verify("sms|u", "839201", "198.51.100.7")).ok


async def test_successful_verify_does_not_count_against_the_ip(service: PinService) -> None:
    """Right PINs give back the IP's pre-counted attempt; only failures use up the IP budget."""
    await service.enroll("sms|u", "839201")
    for _ in range(5):
        assert (await service.verify("sms|u", "839201", "198.51.100.8")).ok
    count = await service.store.redis.get(PinStore.ip_key("198.51.100.8"))
    assert int(count or 0) == 0


async def test_ipv6_failures_are_counted_per_64(service: PinService) -> None:
    """Wrong PINs from different addresses in one IPv6 /64 share one per-IP count."""
    for n in range(3):
        await service.verify(f"sms|v{n}", "100002", f"2001:db8:1:2::{n + 1}")
    assert int(await service.store.redis.get(PinStore.ip_key("2001:db8:1:2:ffff::9")) or 0) == 3
    assert await service.store.redis.get(PinStore.ip_key("2001:db8:1:3::1")) is None
