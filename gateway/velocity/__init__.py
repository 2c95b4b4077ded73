"""Velocity counters: sliding windows in Redis, one round trip per decision, local fallback.

What lives where:
  counters     what a decision asks (CounterCheck, Window) and gets back (HitOutcome); the store
               protocol (VelocityStore) and the `redis.on_error` modes (OnError)
  keys         counter key names: keyed hashes under one Cluster hash tag, and why one slot
  script       the Lua script: the sliding-window log, check-and-add of all counters atomically
  batcher      a generic Redis batcher: concurrent requests' commands in a few bounded pipelines
  local        per-process counters with the script's semantics (`rules test`, the fallback)
  fallback     what the counters read when Redis cannot answer, per `redis.on_error`
  state        state read in the same call (feedback), guards and learned limits over it
  redis_store  RedisVelocity: the production store (script + batcher + fallback + key secret)
"""

from gateway.velocity.batcher import BatcherStats, Command, RedisBatcher, Reply, with_source
from gateway.velocity.counters import (
    CounterCheck,
    CounterResult,
    HitOutcome,
    OnError,
    VelocityStore,
    Window,
    check_spec,
)
from gateway.velocity.keys import HASH_KEY_NAME, KEY_PREFIX, CounterKeys, counter_key
from gateway.velocity.local import LocalVelocity
from gateway.velocity.redis_store import RedisVelocity
from gateway.velocity.script import VELOCITY_LUA, VELOCITY_SHA
from gateway.velocity.state import StateReads, StateValue

__all__ = [
    "HASH_KEY_NAME",
    "KEY_PREFIX",
    "VELOCITY_LUA",
    "VELOCITY_SHA",
    "BatcherStats",
    "Command",
    "CounterCheck",
    "CounterKeys",
    "CounterResult",
    "HitOutcome",
    "LocalVelocity",
    "OnError",
    "RedisBatcher",
    "RedisVelocity",
    "Reply",
    "StateReads",
    "StateValue",
    "VelocityStore",
    "Window",
    "check_spec",
    "counter_key",
    "with_source",
]
