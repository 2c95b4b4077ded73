"""Where each key family lives on a Redis Cluster, and the one-time rename from the old names.

A Cluster runs a script or a MULTI only when all its keys hash to one slot; a key's slot is the
hash of its `{hash tag}` when it has one. Each family that a multi-key operation touches shares one
tag; every other key is untagged, so the Cluster spreads those families over its shards:

  family                 keys                                          slot
  velocity counters      {sgv}:<rule>:<hash>, {sgv}:counter-hash-key    one (one EVALSHA a decision)
  completion feedback    {sgv}:fb:...                                   velocity's (read with it)
  overrides              smsguard:{overrides}, ...{overrides}:audit     one (MULTI: change + audit)
  PIN records            smsguard:{pin}:user:<sub>, :ip:<bucket>, :audit one (scripts: user + IP)
  dashboard login limits smsguard:dash:{loginfail}:ip:<ip>, :pair:<h>   one (script: IP + pair)
  open alert incidents   {sga}:active, {sga}:i:<key>                   one (open/close scripts)
  dashboard sessions     smsguard:dash:session:<hash>                   spread (one key each)
  events                 smsguard:events, smsguard:agg:m:<minute>,      spread (pipelines
                         smsguard:agg:h:<hour>, smsguard:events:asn-names  without MULTI)
  delivery status        smsguard:delivery:<message id>                 spread (one-key script)
  sandbox provider       smsguard:sandbox:<name>                        spread (one-key MULTI)

Before Cluster support the tagged families had untagged names. `migrate_legacy_keys` renames
what an older version left (overrides and PIN records are durable; login-limit counters expire on
their own and are not carried over) on one server or a Sentinel primary, once: it records the
layout version in `smsguard:layout` and does nothing when that says it is done. A Cluster never
held the old names (nothing could connect to one).
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisError

from gateway.logs import get_logger

log = get_logger("gateway.redislayout")

LAYOUT_KEY = "smsguard:layout"
LAYOUT_VERSION = "2"  # 2: hash tags for the families with multi-key operations
LEGACY_KEYS = {
    "smsguard:overrides": "smsguard:{overrides}",
    "smsguard:overrides:audit": "smsguard:{overrides}:audit",
}
LEGACY_PREFIXES = {"smsguard:pin:": "smsguard:{pin}:"}
SCAN_BATCH = 1000
MIGRATION_TIMEOUT_S = 120.0  # a SCAN of a large keyspace; the start waits for it once


async def migrate_legacy_keys(redis: Redis, timeout_s: float = 1.0) -> int:
    """Rename keys from before the hash tags; the number renamed. Safe to run on every start,
    from several instances at once (RENAMENX: a key renamed by another instance is skipped).
    Redis down or slow at start: logged, and done on a later start (an interrupted rename goes
    on from where it stopped: renamed keys no longer match the old names)."""
    try:
        async with asyncio.timeout(timeout_s):
            if isinstance(redis, RedisCluster):
                return 0
            if await redis.get(LAYOUT_KEY) == LAYOUT_VERSION.encode():
                return 0
        async with asyncio.timeout(MIGRATION_TIMEOUT_S):
            return await _migrate(redis)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("redis_key_layout_not_checked", error=str(exc) or type(exc).__name__)
        return 0


async def _migrate(redis: Redis) -> int:
    renamed = 0
    for old, new in LEGACY_KEYS.items():
        renamed += await _rename(redis, [(old, new)])
    for old_prefix, new_prefix in LEGACY_PREFIXES.items():
        batch: list[tuple[str, str]] = []
        async for raw in redis.scan_iter(match=f"{old_prefix}*", count=SCAN_BATCH):
            key = raw.decode()
            batch.append((key, new_prefix + key.removeprefix(old_prefix)))
            if len(batch) >= SCAN_BATCH:
                renamed += await _rename(redis, batch)
                batch = []
        renamed += await _rename(redis, batch)
    await redis.set(LAYOUT_KEY, LAYOUT_VERSION)
    if renamed:
        log.info("redis_keys_renamed_for_cluster_layout", keys=renamed, layout=LAYOUT_VERSION)
    return renamed


async def _rename(redis: Redis, pairs: list[tuple[str, str]]) -> int:
    if not pairs:
        return 0
    pipe = redis.pipeline(transaction=False)
    for old, new in pairs:
        pipe.renamenx(old, new)
    replies = await pipe.execute(raise_on_error=False)
    # ResponseError: the old key is gone (another instance renamed it first).
    return sum(1 for r in replies if r == 1)
