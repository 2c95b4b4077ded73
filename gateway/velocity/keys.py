"""Counter key names: keyed hashes of the key values, all under one Redis Cluster hash tag.

Redis Cluster: every key of one script call must hash to one slot. All counter keys carry the same
hash tag (`{sgv}`), so every decision is exactly one EVALSHA that checks and updates all its
counters atomically and in rule order. The trade-off: on a Cluster all velocity counters live on
one shard, and its one core bounds the decision rate: with the shipped rules (up to 9 counters a
request) a script costs about 60-120 us of Redis CPU (measured on the 2-core dev box), i.e. some
10,000 decisions a second per shard, above what a gateway fleet of a few workers serves. In exchange
a decision is one atomic call whose stop-at-the-first-refusal semantics cannot be split across
shards. (Spreading them would need one script per slot, pipelined in one round trip, and would give
up the ordered atomicity across rules.)
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence

KEY_PREFIX = "{sgv}:"  # the hash tag: every counter on one Cluster slot (see module docstring)
HASH_KEY_NAME = KEY_PREFIX + "counter-hash-key"  # the shared secret when none is configured


class CounterKeys:
    """Counter key names: `{sgv}:<rule id>:<keyed hash of the key's values>`.

    The values (numbers, IPs) are hashed with a secret (keyed BLAKE2b), so key names in Redis do
    not give them away to a brute force over the small space of phone numbers or IPv4 addresses.
    Every gateway instance must use the same secret, or they would count in different keys: it comes
    from `rules.counter_hash_key`, or else from Redis (`SET NX` of a random key on first start, read
    by every instance; see `RedisVelocity.start`). `secret=None` means "not known yet": names are
    then made with a random per-process secret, good only for the local fallback counters.
    """

    def __init__(self, secret: bytes | None = b"") -> None:
        self.ready = False
        self._secret = b""
        self._name = functools.lru_cache(maxsize=65_536)(self._compute)
        self.set_secret(secret)

    def set_secret(self, secret: bytes | None) -> None:
        self.ready = secret is not None
        material = secret if secret is not None else os.urandom(32)
        # BLAKE2b takes a key of at most 64 bytes: longer secrets are hashed down first.
        self._secret = material if len(material) <= 64 else hashlib.blake2b(material).digest()
        self._name.cache_clear()

    def key(self, rule_id: str, parts: Sequence[str]) -> str:
        """The Redis key of one counter; cached (attack traffic repeats prefixes, networks)."""
        return self._name(rule_id, "\x1f".join(parts))

    def _compute(self, rule_id: str, joined: str) -> str:
        digest = hashlib.blake2b(joined.encode(), digest_size=10, key=self._secret).hexdigest()
        return f"{KEY_PREFIX}{rule_id}:{digest}"


_UNKEYED = CounterKeys(b"")


def counter_key(rule_id: str, parts: Sequence[str]) -> str:
    """A counter key with an empty secret (tests and tools that never share Redis counters)."""
    return _UNKEYED.key(rule_id, parts)
