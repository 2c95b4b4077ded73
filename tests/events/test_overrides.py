"""Overrides: manual block/allow of IPs, CIDRs, prefixes and countries, shared by every instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.models import Action
from gateway.overrides import HASH_KEY, OverrideError, Overrides
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.velocity import LocalVelocity
from tests.events.helpers import signals
from tests.policy.helpers import signals as policy_signals
from tests.policy.helpers import sms, write_rules


@pytest.fixture
async def instances(redis_url: str) -> AsyncIterator[tuple[Overrides, Overrides, FakeClock]]:
    """Two gateway instances' override caches on one Redis, each with its listener running."""
    clock = FakeClock()
    clients: list[Redis] = [Redis.from_url(redis_url) for _ in range(2)]
    a, b = (Overrides(c, clock, refresh_s=60) for c in clients)
    await a.reload()
    await b.reload()
    a.start()
    b.start()
    await _until(lambda: a.reloads >= 2 and b.reloads >= 2)  # both subscribed
    yield a, b, clock
    await a.stop()
    await b.stop()
    for c in clients:
        await c.aclose()


async def _until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


async def test_block_set_on_one_instance_applies_on_another(
    instances: tuple[Overrides, Overrides, FakeClock],
) -> None:
    """An IP blocked through instance A is matched by instance B's local cache."""
    a, b, _ = instances
    await a.add("ip", "198.51.100.9", "block", reason="pumping", author="alice")
    await _until(lambda: b.match(signals(ip="198.51.100.9")) is not None)
    hit = b.match(signals(ip="198.51.100.9"))
    assert hit is not None
    assert (hit.kind, hit.value, hit.action, hit.author) == ("ip", "198.51.100.9", "block", "alice")
    assert b.match(signals(ip="198.51.100.10")) is None


async def test_removal_on_one_instance_applies_on_another(
    instances: tuple[Overrides, Overrides, FakeClock],
) -> None:
    """Removing an override through A lifts it on B."""
    a, b, _ = instances
    o = await a.add("country", "gb", "block", reason="attack", author="alice")
    await _until(lambda: b.match(signals()) is not None)
    await a.remove(o.id, author="bob", reason="over")
    await _until(lambda: b.match(signals()) is None)


async def test_expired_override_no_longer_matches(redis: Redis) -> None:
    """An override with an expiry stops matching once the clock passes it."""
    clock = FakeClock()
    o = Overrides(redis, clock)
    await o.add("cidr", "203.0.113.0/24", "block", reason="r", author="a", expires_in_s=600)
    assert o.match(signals(ip="203.0.113.50")) is not None
    clock.advance(601)
    assert o.match(signals(ip="203.0.113.50")) is None


async def test_reload_deletes_expired_overrides_and_audits_once(redis: Redis) -> None:
    """A reload after expiry removes the override from Redis and writes one 'expire' audit line."""
    clock = FakeClock()
    a, b = Overrides(redis, clock), Overrides(redis, clock)
    await a.add("prefix", "+447700", "block", reason="r", author="a", expires_in_s=60)
    clock.advance(61)
    await a.reload()
    await b.reload()
    assert await redis.hlen(HASH_KEY) == 0
    changes = [e["change"] for e in await a.audit()]
    assert changes == ["expire", "add"]


async def test_prefix_override_matches_longest_known_prefix_of_the_number(redis: Redis) -> None:
    """A prefix override matches every number starting with its digits, '+' or not."""
    o = Overrides(redis, FakeClock())
    await o.add("prefix", "+44 7700", "block", reason="r", author="a")
    assert o.match(signals(recipient="+447700900123")) is not None
    assert o.match(signals(recipient="+447800900123")) is None


async def test_block_wins_over_allow_when_both_match(redis: Redis) -> None:
    """An allowed country does not shield a blocked IP."""
    o = Overrides(redis, FakeClock())
    await o.add("country", "GB", "allow", reason="office", author="a")
    await o.add("ip", "203.0.113.7", "block", reason="bot", author="a")
    hit = o.match(signals(ip="203.0.113.7"))
    assert hit is not None
    assert hit.action == "block"
    allowed = o.match(signals(ip="203.0.113.8"))
    assert allowed is not None
    assert allowed.action == "allow"


async def test_same_target_replaces_the_previous_override(redis: Redis) -> None:
    """Blocking an IP that was allowed replaces the allow instead of keeping both."""
    o = Overrides(redis, FakeClock())
    await o.add("ip", "203.0.113.7", "allow", reason="r", author="a")
    await o.add("ip", "203.0.113.7", "block", reason="r", author="a")
    assert [x.action for x in o.active()] == ["block"]
    assert await redis.hlen(HASH_KEY) == 1


async def test_every_change_is_audited_with_author_and_reason(redis: Redis) -> None:
    """Adds and removals appear in the audit stream, newest first, with who and why."""
    o = Overrides(redis, FakeClock())
    x = await o.add("ip", "203.0.113.7", "block", reason="bot burst", author="alice")
    await o.remove(x.id, author="bob", reason="false positive")
    audit = await o.audit()
    assert [(e["change"], e["author"], e["reason"]) for e in audit] == [
        ("remove", "bob", "false positive"),
        ("add", "alice", "bot burst"),
    ]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ip", "300.1.1.1"),
        ("cidr", "10.0.0.0/33"),
        ("prefix", "44ab"),
        ("country", "GBR"),
        ("country", "ZZ"),
        ("asn", "64500"),
    ],
)
async def test_invalid_targets_are_refused(redis: Redis, kind: str, value: str) -> None:
    """Bad IPs, CIDRs, prefixes, codes not on the ISO country list and unknown kinds raise
    OverrideError."""
    o = Overrides(redis, FakeClock())
    with pytest.raises(OverrideError):
        await o.add(kind, value, "block", reason="r", author="a")


async def test_a_reason_is_required(redis: Redis) -> None:
    """An override without a reason is refused (the audit must say why)."""
    o = Overrides(redis, FakeClock())
    with pytest.raises(OverrideError, match="reason"):
        await o.add("ip", "203.0.113.7", "block", reason="  ", author="a")


async def test_same_target_from_another_instance_is_replaced_not_duplicated(
    redis: Redis,
) -> None:
    """Blocking a target another instance allowed (unseen in this cache) still replaces it."""
    a, b = Overrides(redis, FakeClock()), Overrides(redis, FakeClock())
    await a.add("ip", "203.0.113.7", "allow", reason="r", author="a")
    await b.add("ip", "203.0.113.7", "block", reason="r", author="b")
    assert await redis.hlen(HASH_KEY) == 1


@pytest.mark.parametrize(
    ("kind", "value", "action"),
    [
        ("cidr", "10.0.0.0/7", "block"),
        ("cidr", "2001:db8::/31", "block"),
        ("cidr", "10.0.0.0/15", "allow"),
        ("cidr", "2001:db8::/47", "allow"),
        ("prefix", "44", "allow"),
    ],
)
async def test_broad_targets_need_a_confirmation(
    redis: Redis, kind: str, value: str, action: str
) -> None:
    """Very broad CIDRs, broad allows and short allowed prefixes are refused unless confirmed."""
    o = Overrides(redis, FakeClock())
    with pytest.raises(OverrideError, match=r"broad|too many"):
        await o.add(kind, value, action, reason="r", author="a")
    await o.add(kind, value, action, reason="r", author="a", confirm_broad=True)
    assert len(o.active()) == 1


async def test_narrow_targets_need_no_confirmation(redis: Redis) -> None:
    """A /8 block, a /16 allow and a 3-digit allowed prefix are set without confirming."""
    o = Overrides(redis, FakeClock())
    await o.add("cidr", "10.0.0.0/8", "block", reason="r", author="a")
    await o.add("cidr", "10.1.0.0/16", "allow", reason="r", author="a")
    await o.add("prefix", "447", "allow", reason="r", author="a")
    assert len(o.active()) == 3


async def test_long_prefix_is_masked_in_audit_and_api_but_matches(redis: Redis) -> None:
    """A 12-digit prefix is a phone number: masked when shown, matched in full."""
    o = Overrides(redis, FakeClock())
    x = await o.add("prefix", "447700900123", "block", reason="r", author="a")
    assert x.shown == "+44*******123"
    assert x.public()["value"] == "+44*******123"
    assert (await o.audit())[0]["value"] == "+44*******123"
    assert o.match(signals("+447700900123")) == x


async def test_notes_have_every_audit_field(redis: Redis) -> None:
    """A note (a PIN unlock) carries the fields an override's audit entry has, None if unused."""
    o = Overrides(redis, FakeClock())
    await o.note("pin-unlock", author="alice", reason="support", target="sms|abc")
    entry = (await o.audit())[0]
    assert entry["target"] == "sms|abc"
    assert (entry["kind"], entry["value"], entry["action"], entry["expires_at"]) == (
        None,
        None,
        None,
        None,
    )


async def test_racing_adds_of_one_target_leave_one_override(redis_url: str) -> None:
    """Adds of the same target racing from several instances store it once, not once each."""
    clients: list[Redis] = [Redis.from_url(redis_url) for _ in range(5)]
    instances = [Overrides(c, FakeClock()) for c in clients]
    try:
        await asyncio.gather(
            *(o.add("ip", "198.51.100.77", "block", reason="race", author="a") for o in instances)
        )
        stored = await clients[0].hvals(HASH_KEY)
    finally:
        for c in clients:
            await c.aclose()
    assert sum(b"198.51.100.77" in raw for raw in stored) == 1


async def test_the_policy_asks_the_overrides_before_the_rules(redis: Redis, tmp_path: Path) -> None:
    """A request an override blocks is decided by the override, even when a rule would allow it;
    one it does not match goes on to the rules."""
    folder = write_rules(
        tmp_path,
        {"10-a.yaml": "default: {action: allow}\nrules: []\n"},
    )
    o = Overrides(redis, FakeClock())
    await o.add("ip", "198.51.100.9", "block", reason="pumping", author="alice")
    engine = RuleEngine(load_rules(folder), LocalVelocity(), clock=FakeClock(), overrides=o)
    blocked = await engine.decide(sms(), policy_signals(ip="198.51.100.9"))
    assert (blocked.action, blocked.status) == (Action.BLOCK, 403)
    assert blocked.rule_id is not None
    assert blocked.rule_id.startswith("override:")
    assert blocked.reason == "blocked by override: pumping"
    passed = await engine.decide(sms(), policy_signals(ip="198.51.100.10"))
    assert passed.action is Action.ALLOW
    assert passed.rule_id != blocked.rule_id
