"""Overrides: the security team's manual block/allow list, applied at once on every instance.

An override blocks or allows one IP, one CIDR, a phone-number prefix or a destination country, with
a reason, an author and an optional expiry. They live in Redis:

    HASH   smsguard:{overrides}         id -> JSON of the override (the current list)
    STREAM smsguard:{overrides}:audit   every change: who, when, what, why (capped)
    PUBSUB smsguard:overrides:changed   "something changed": every instance re-reads the hash
(one hash tag: a change and its audit line are one MULTI, one slot on a Cluster)

Each instance keeps the whole list in memory; the policy calls the synchronous `decide`, which
never touches Redis. A change made on one instance is published and every other instance reloads
within a round trip; a periodic full reload is the safety net for a missed message.

When several overrides match one request, a block wins over an allow (fail closed), so an allowed
prefix cannot shield traffic from an IP that was blocked during an attack.

    targets.py  Override, its kinds, validation and guard rails (normalise, check_breadth)
    index.py    the active overrides arranged for the lookup of one request
    store.py    Overrides: the local cache of the Redis list, changes, audit, the listener
    stage.py    setup(app): built once at start-up; the policy asks it first (`decide`)
"""

from gateway.overrides.stage import setup
from gateway.overrides.store import AUDIT_KEY, CHANNEL, HASH_KEY, Overrides
from gateway.overrides.targets import (
    ACTIONS,
    KINDS,
    Override,
    OverrideAction,
    OverrideError,
    check_breadth,
    normalise,
    show_value,
)

__all__ = [
    "ACTIONS",
    "AUDIT_KEY",
    "CHANNEL",
    "HASH_KEY",
    "KINDS",
    "Override",
    "OverrideAction",
    "OverrideError",
    "Overrides",
    "check_breadth",
    "normalise",
    "setup",
    "show_value",
]
