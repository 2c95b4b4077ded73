"""Sliding windows, the same semantics in Redis and in the per-process store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.velocity import (
    CounterCheck,
    LocalVelocity,
    RedisVelocity,
    VelocityStore,
    Window,
    counter_key,
)

TEN_MIN = CounterCheck(counter_key("r", ["+447400123456"]), (Window(600, 5),), final=True)
TWO = CounterCheck(counter_key("two", ["x"]), (Window(60, 2), Window(3600, 3)), final=True)


@pytest.fixture(params=["local", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[VelocityStore]:
    """Each test runs against the per-process store and against a real redis-server."""
    if request.param == "local":
        yield LocalVelocity()
        return
    client: Redis = Redis.from_url(redis_url)
    yield RedisVelocity(client, clock=FakeClock(), timeout_s=2.0)
    await client.aclose()


async def allowed(store: VelocityStore, check: CounterCheck, now: float, n: int = 1) -> int:
    ok = 0
    for i in range(n):
        outcome = await store.hit([check], f"t{now}-{i}", now)
        result = outcome.results[0]
        assert result is not None
        ok += not result.exceeded
    return ok


async def test_limit_is_enforced_within_the_window(store: VelocityStore) -> None:
    """Five in ten minutes pass, the sixth does not."""
    t = 1_700_000_000.0
    assert await allowed(store, TEN_MIN, t, 5) == 5
    assert await allowed(store, TEN_MIN, t + 599, 1) == 0


async def test_no_double_burst_at_a_window_edge(store: VelocityStore) -> None:
    """Five at the end of one ten-minute period leave nothing for the start of the next."""
    t = 1_700_000_000.0
    assert await allowed(store, TEN_MIN, t + 540, 5) == 5  # minute 9
    assert await allowed(store, TEN_MIN, t + 601, 5) == 0  # minute 10: a fixed window would reset


async def test_window_slides_event_by_event(store: VelocityStore) -> None:
    """Budget comes back as each old event leaves the window, one at a time."""
    t = 1_700_000_000.0
    for i in range(5):
        assert await allowed(store, TEN_MIN, t + i * 60) == 1
    assert await allowed(store, TEN_MIN, t + 600) == 1  # the event at t left the window
    assert await allowed(store, TEN_MIN, t + 601) == 0  # the one at t+60 has not


async def test_several_windows_per_counter(store: VelocityStore) -> None:
    """2 per minute and 3 per hour: the hourly window refuses after the minute resets."""
    t = 1_700_000_000.0
    assert await allowed(store, TWO, t, 3) == 2
    assert await allowed(store, TWO, t + 61, 3) == 1
    outcome = await store.hit([TWO], "late", t + 122)
    result = outcome.results[0]
    assert result is not None
    assert (result.counts, result.over) == ((0, 3), 1)


async def test_release_gives_one_event_back(store: VelocityStore) -> None:
    """Releasing a token frees exactly its place in the window."""
    t = 1_700_000_000.0
    for i in range(5):
        await store.hit([TEN_MIN], f"tok{i}", t)
    await store.release([TEN_MIN.key], "tok3")
    assert await allowed(store, TEN_MIN, t + 1, 2) == 1


async def test_peek_reads_without_writing(store: VelocityStore) -> None:
    """peek reports the counts and adds nothing."""
    t = 1_700_000_000.0
    await allowed(store, TEN_MIN, t, 2)
    for _ in range(3):
        outcome = await store.peek([TEN_MIN], t + 1)
        assert outcome.results[0] is not None
        assert outcome.results[0].counts == (2,)


async def test_a_refusal_stops_counting_later_final_checks(store: VelocityStore) -> None:
    """Checks after a final one over its limit are not reached and not counted."""
    t = 1_700_000_000.0
    first = CounterCheck(counter_key("a", ["k"]), (Window(60, 1),), final=True)
    second = CounterCheck(counter_key("b", ["k"]), (Window(60, 10),), final=True)
    await store.hit([first, second], "one", t)
    outcome = await store.hit([first, second], "two", t)
    assert outcome.results[1] is None
    again = await store.peek([second], t)
    assert again.results[0] is not None
    assert again.results[0].counts == (1,)


def test_local_store_is_bounded() -> None:
    """The per-process store evicts the least recently used counters beyond its bound."""
    store = LocalVelocity(max_keys=100)
    for i in range(1000):
        check = CounterCheck(f"k{i}", (Window(60, 5),), final=True)
        store.hit_now([check], "t", 1.0)
    assert len(store) == 100


async def test_a_refusal_voids_earlier_reservations(store: VelocityStore) -> None:
    """A `count: sent` reservation is taken back in the same call when a later check refuses."""
    t = 1_700_000_000.0
    sent = CounterCheck(counter_key("sent", ["k"]), (Window(3600, 10),), final=True, reserve=True)
    tight = CounterCheck(counter_key("tight", ["k"]), (Window(60, 1),), final=True)
    await store.hit([sent, tight], "one", t)
    outcome = await store.hit([sent, tight], "two", t)
    assert outcome.results[1] is not None
    assert outcome.results[1].exceeded
    after = await store.peek([sent], t)
    assert after.results[0] is not None
    assert after.results[0].counts == (1,)


async def test_release_later_takes_a_reservation_back(store: VelocityStore) -> None:
    """release_later frees the place without the caller waiting for Redis."""
    t = 1_700_000_000.0
    await store.hit([TEN_MIN], "keep", t)
    await store.hit([TEN_MIN], "drop", t)
    store.release_later([TEN_MIN.key], "drop")
    outcome = await store.peek([TEN_MIN], t)  # the next call flushes the queued release first
    assert outcome.results[0] is not None
    assert outcome.results[0].counts == (1,)
