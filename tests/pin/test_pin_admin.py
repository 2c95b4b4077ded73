"""gateway.pin.admin: the store, audited actions and the audit log the CLI and dashboard share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.pin import admin
from gateway.pin.store import PinStore
from gateway.settings import Settings, build_settings

USER = "sms|admin-user"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def settings_for(url: str, **pin: str) -> Settings:
    return build_settings({"redis": {"url": url}, "pin": pin}, environ={})


async def test_unlock_is_audited_with_where_it_came_from(redis_url: str, redis: Redis) -> None:
    """unlock clears the lock, keeps the PIN and audits operator, reason and `via`."""
    await redis.hset(PinStore.user_key(USER), mapping={"hash": "x", "locked_at": "1"})
    async with admin.open_store(settings_for(redis_url)) as store:
        assert await admin.unlock(store, USER, operator="ops", reason="call", via="dashboard")
        (entry,) = await admin.read_audit(store, 10)
    assert await redis.hget(PinStore.user_key(USER), "hash") == b"x"
    assert (entry.action, entry.user, entry.operator, entry.reason) == (
        "unlock",
        USER,
        "ops",
        "call",
    )
    assert (entry.changed, entry.via) == (True, "dashboard")


async def test_audit_is_newest_first_and_old_entries_read_as_cli(
    redis_url: str, redis: Redis
) -> None:
    """read_audit lists the newest first; an entry without `via` (older CLI) reads as cli."""
    await redis.xadd(admin.AUDIT_STREAM, {"action": "reset", "user": "old", "changed": "0"})
    async with admin.open_store(settings_for(redis_url)) as store:
        await admin.reset(store, "new", operator="ops", reason="", via="cli")
        entries = await admin.read_audit(store, 10)
    assert [(e.user, e.via, e.changed) for e in entries] == [
        ("new", "cli", False),
        ("old", "cli", False),
    ]


async def test_store_prefers_pin_redis_url_over_the_shared_client(
    redis_url: str, redis: Redis
) -> None:
    """With pin.redis_url set, open_store uses it even when a shared client is offered."""
    pin_url = redis_url.rsplit("/", 1)[0] + "/7"
    async with admin.open_store(settings_for(redis_url, redis_url=pin_url), shared=redis) as store:
        await admin.unlock(store, USER, operator="ops", reason="", via="dashboard")
    assert not await redis.exists(admin.AUDIT_STREAM)
    pin_redis: Redis = Redis.from_url(pin_url)
    try:
        assert await pin_redis.xlen(admin.AUDIT_STREAM) == 1
    finally:
        await pin_redis.aclose()
