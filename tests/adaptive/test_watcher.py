"""The auto-block watcher on a real Redis: feedback counters in; overrides, alerts, counts out."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.adaptive.figures import FeedbackFigures
from gateway.adaptive.watcher import Watcher
from gateway.alerts.model import Alert
from gateway.clock import FakeClock
from gateway.errors import Location
from gateway.feedback.keys import FeedbackKeys, SendDims
from gateway.feedback.store import Completion, FeedbackStore, Sent, StoreConfig
from gateway.metrics import Metrics
from gateway.overrides import Overrides
from gateway.policy.autoblockspec import AutoBlock
from gateway.velocity import CounterKeys
from tests.policy.helpers import signals

T0 = 1_700_000_000.0
UZ = "+9989141"  # a wide range: +998 9141...


def entry(shadow: bool = False) -> AutoBlock:
    return AutoBlock(
        id="auto-block-range",
        description="codes to a wide range are not used",
        subject="phone.range4",
        window="1h",
        min_sent=10,
        max_conversion=0.05,
        below_baseline=None,
        block_for_s=7200,
        shadow=shadow,
        location=Location("rules/70-auto.yaml", 1, 1),
    )


class Recorded:
    """An alert sink that keeps what it was told (the real Alerter is tested in tests/alerts)."""

    def __init__(self) -> None:
        self.fired: list[Alert] = []
        self.cleared: list[str] = []

    def fire(self, alert: Alert) -> None:
        self.fired.append(alert)

    def clear(self, key: str) -> None:
        self.cleared.append(key)


async def _setup(
    redis: Redis, *, shadow: bool = False, used: int = 0
) -> tuple[Watcher, Overrides, Recorded, Metrics]:
    clock = FakeClock(T0)
    keys = FeedbackKeys(CounterKeys(b"watch-secret"))
    store = FeedbackStore(redis, keys, StoreConfig())
    numbers = [f"{UZ}0{n:04d}" for n in range(12)]
    await store.record_sent(
        [Sent(SendDims(e164=e, cc="UZ"), T0 - 300, f"c{i}") for i, e in enumerate(numbers)], T0
    )
    await store.apply([Completion(e, T0 - 200) for e in numbers[:used]], T0)
    overrides = Overrides(redis, clock)
    alerts, metrics = Recorded(), Metrics()
    watcher = Watcher(
        lambda: (entry(shadow),),
        FeedbackFigures(redis, keys),
        overrides,
        clock=clock,
        metrics=metrics,
        alerts=alerts,
    )
    for e in numbers:
        watcher.candidates.add(signals(e164=e, phone_country="UZ", calling_code=998))
    return watcher, overrides, alerts, metrics


async def test_a_collapsed_range_is_blocked_with_an_expiry_and_its_figures(redis: Redis) -> None:
    """12 codes, none used: a prefix override for 2 h, the reason with the figures, one alert."""
    watcher, overrides, alerts, metrics = await _setup(redis)
    await watcher.tick()
    [block] = overrides.active()
    assert (block.kind, block.value, block.action) == ("prefix", "9989141", "block")
    assert block.expires_at == T0 + 7200
    assert block.reason == "auto-block-range: +998 9141: 12 codes, 0 logins in 1h; baseline 0%"
    assert block.author == "smsguard:auto-block"
    assert [a.key for a in alerts.fired] == ["auto-block:prefix:9989141"]
    sample = metrics.registry.get_sample_value(
        "smsguard_auto_blocks_total", {"rule": "auto-block-range", "mode": "enforce"}
    )
    assert sample == 1.0


async def test_a_range_whose_codes_are_used_is_not_blocked(redis: Redis) -> None:
    """12 codes, 6 used (50%): no override, no alert."""
    watcher, overrides, alerts, _ = await _setup(redis, used=6)
    await watcher.tick()
    assert overrides.active() == []
    assert alerts.fired == []


async def test_in_shadow_the_block_is_only_recorded(redis: Redis) -> None:
    """Shadow: no override; the audit log says it would have auto-blocked, with the figures."""
    watcher, overrides, _, metrics = await _setup(redis, shadow=True)
    await watcher.tick()
    assert overrides.active() == []
    [note] = await overrides.audit()
    assert note["change"] == "would auto-block"
    assert "12 codes, 0 logins in 1h" in str(note["reason"])
    sample = metrics.registry.get_sample_value(
        "smsguard_auto_blocks_total", {"rule": "auto-block-range", "mode": "shadow"}
    )
    assert sample == 1.0


async def test_lifting_the_block_clears_its_alert(redis: Redis) -> None:
    """A person lifts the block on the dashboard: the next look closes the incident."""
    watcher, overrides, alerts, _ = await _setup(redis)
    await watcher.tick()
    [block] = overrides.active()
    await overrides.remove(block.id, author="alice", reason="a real customer's range")
    await watcher.tick()
    assert alerts.cleared == ["auto-block:prefix:9989141"]
    lifted, _added = await overrides.audit()
    assert (lifted["change"], lifted["author"]) == ("remove", "alice")
