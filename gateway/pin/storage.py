"""Is the Redis holding PIN records safe to hold them?

PIN hashes and lock counters are durable records, not a cache: a Redis that does not persist (no
AOF, no RDB snapshots) forgets every PIN and lock on restart, and one that evicts keys under memory
pressure can silently unlock a locked user. We ask with CONFIG GET and fall back to INFO (managed
Redis services often disable CONFIG); what cannot be confirmed is reported as "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError


@dataclass(frozen=True)
class StorageReport:
    persistence: str  # "aof", "rdb", "aof+rdb", "none" or "unknown"
    eviction: str  # the maxmemory-policy, or "unknown"

    @property
    def safe(self) -> bool:
        return self.persistence not in ("none", "unknown") and self.eviction == "noeviction"

    def problems(self) -> list[str]:
        found = []
        if self.persistence == "none":
            found.append("no persistence (enable appendonly yes or RDB save points)")
        elif self.persistence == "unknown":
            found.append("persistence unknown (CONFIG is disabled; confirm AOF/RDB yourself)")
        if self.eviction == "unknown":
            found.append("maxmemory-policy unknown (confirm it is noeviction)")
        elif self.eviction != "noeviction":
            found.append(f"maxmemory-policy is {self.eviction}, not noeviction (keys may vanish)")
        return found

    def detail(self) -> str:
        if self.safe:
            return f"persistence {self.persistence}, maxmemory-policy noeviction"
        return "PIN records may be lost: " + "; ".join(self.problems())


async def check_storage(redis: Redis) -> StorageReport:
    """Ask Redis how it persists and evicts; never raises for a disabled CONFIG command."""
    aof: bool | None = None
    rdb: bool | None = None
    policy: str | None = None
    try:
        aof = _text(await _config(redis, "appendonly")) == "yes"
        rdb = _text(await _config(redis, "save")).strip() != ""
        policy = _text(await _config(redis, "maxmemory-policy"))
    except RedisError:
        pass  # CONFIG renamed or disabled (managed Redis): fall back to INFO below
    if aof is None or policy is None:
        try:
            persistence_info: dict[str, object] = await redis.info("persistence")
            memory_info: dict[str, object] = await redis.info("memory")
        except RedisError:
            persistence_info, memory_info = {}, {}
        if "aof_enabled" in persistence_info:
            aof = str(persistence_info["aof_enabled"]) == "1"
        if "maxmemory_policy" in memory_info:
            policy = str(memory_info["maxmemory_policy"])
    kinds = [name for name, on in (("aof", aof), ("rdb", rdb)) if on]
    if kinds:
        persistence = "+".join(kinds)
    elif aof is False and rdb is False:
        persistence = "none"
    else:
        persistence = "unknown"
    return StorageReport(persistence=persistence, eviction=policy or "unknown")


async def _config(redis: Redis, name: str) -> object:
    answer: dict[str | None, str | None] = await redis.config_get(name)
    for key, value in answer.items():
        if _text(key) == name:
            return value
    raise RedisError(f"CONFIG GET {name} returned nothing")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
