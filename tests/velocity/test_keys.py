"""Counter key names: keyed hashes, and the secret every instance shares through Redis."""

from __future__ import annotations

import asyncio
import hashlib

from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.redisproc import RedisProcess
from gateway.velocity import (
    HASH_KEY_NAME,
    VELOCITY_SHA,
    CounterCheck,
    CounterKeys,
    RedisVelocity,
    Window,
    counter_key,
)


def test_counter_key_names_are_keyed_hashes() -> None:
    """Without the secret a key name cannot be recomputed from a guessed number."""
    keyed = CounterKeys(b"secret-1").key("r", ["+447400123456"])
    assert keyed != CounterKeys(b"secret-2").key("r", ["+447400123456"])
    assert keyed != counter_key("r", ["+447400123456"])
    unkeyed = hashlib.blake2b(b"+447400123456", digest_size=10).hexdigest()
    assert unkeyed not in keyed


async def test_start_loads_the_script_and_shares_one_hash_key(redis_url: str) -> None:
    """start(): the script is loaded and two instances settle on the same counter-key secret."""
    a: Redis = Redis.from_url(redis_url)
    b: Redis = Redis.from_url(redis_url)
    try:
        await a.script_flush()
        one = RedisVelocity(a, clock=FakeClock())
        two = RedisVelocity(b, clock=FakeClock())
        await one.start()
        await two.start()
        loaded = await a.script_exists(VELOCITY_SHA)
    finally:
        await a.aclose()
        await b.aclose()
    assert loaded == [True]
    assert one.keys.ready
    assert two.keys.ready
    assert one.keys.key("r", ["+447400123456"]) == two.keys.key("r", ["+447400123456"])


async def test_redis_down_at_start_falls_back_until_the_shared_key_is_read(
    own_redis: RedisProcess,
) -> None:
    """No Redis at start: local counters; once Redis is up, the secret is read and Redis used."""
    own_redis.stop()
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    store = RedisVelocity(client, clock=FakeClock(), timeout_s=0.2, retry_after_s=0.0)
    check = lambda: [  # noqa: E731 - key names change once the secret is known
        CounterCheck(store.keys.key("r", ["k"]), (Window(600, 5),), True)
    ]
    await store.start()
    before = await store.hit(check(), "a" * 16, 1_700_000_000.0)
    own_redis.start()
    for _ in range(100):
        if store.keys.ready:
            break
        await asyncio.sleep(0.05)
    after = await store.hit(check(), "b" * 16, 1_700_000_000.0)
    await store.stop()
    await client.aclose()
    assert before.fallback == "local"
    assert store.keys.ready
    assert after.fallback is None


async def test_a_restarted_redis_gets_the_shared_key_back(own_redis: RedisProcess) -> None:
    """Redis lost its data: the first calls afterwards put this instance's secret back."""
    client: Redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.2)
    store = RedisVelocity(client, clock=FakeClock(), timeout_s=0.5, retry_after_s=0.0)
    await store.start()
    secret = await client.get(HASH_KEY_NAME)
    own_redis.stop()
    own_redis.start()  # no persistence: an empty Redis
    check = [CounterCheck(store.keys.key("r", ["k"]), (Window(600, 5),), True)]
    outcomes = [await store.hit(check, f"{i:016x}", 1_700_000_000.0) for i in range(3)]
    restored = await client.get(HASH_KEY_NAME)
    await client.aclose()
    assert outcomes[-1].fallback is None
    assert restored == secret
