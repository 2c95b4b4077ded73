"""The event recorder: bounded, batched, phone-safe, and harmless when Redis is down."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.dashboard.eventsearch import decode_event
from gateway.events import (
    HOUR_PREFIX,
    MINUTE_PREFIX,
    STREAM_KEY,
    Outcome,
    ShadowEntry,
    TraceEntry,
    masked_recipient,
    safe_prefix,
)
from gateway.models import Action, Decision, ShadowHit, TraceStep
from gateway.redisproc import free_port
from tests.events.helpers import RECIPIENT, blocked, blocked_outcome, recorder, signals, sms


async def test_many_records_are_written_in_few_pipelines(redis: Redis) -> None:
    """1,000 events with batches of 500 are written by exactly two pipelines."""
    rec = recorder(redis, batch_size=500)
    for n in range(1000):
        rec.record(sms(n), signals(), blocked(), blocked_outcome())
    assert await rec.flush()
    assert rec.stats.pipelines == 2
    assert await redis.xlen(STREAM_KEY) == 1000


async def test_stored_event_has_masked_recipient_and_never_the_full_number(redis: Redis) -> None:
    """The stream holds the masked number, a keyed hash and a 6-digit prefix, not the number."""
    rec = recorder(redis)
    rec.record(sms(1), signals(), blocked(), blocked_outcome())
    await rec.flush()
    ((sid, fields),) = await redis.xrange(STREAM_KEY)
    assert RECIPIENT.lstrip("+").encode() not in fields[b"e"]
    event = decode_event(sid, fields)
    assert event.to == "+447700****23"  # 4 digits unknown beside the 6-digit prefix
    assert event.prefix == "447700"
    assert len(event.phone_hash) == 16


async def test_stored_event_carries_rule_trace_shadow_and_network(redis: Redis) -> None:
    """An event keeps the rule, reason, shadow hits, the trace and the IP's /24 and ASN."""
    rec = recorder(redis)
    rec.record(sms(1), signals(), blocked(), blocked_outcome())
    await rec.flush()
    ((sid, fields),) = await redis.xrange(STREAM_KEY)
    event = decode_event(sid, fields)
    assert (event.action, event.rule) == ("blocked", "prefix-burst")
    assert event.http_status == 429
    assert event.shadow == [ShadowEntry("asn-hosting", "block", "hosting network")]
    assert event.trace[0] == TraceEntry("allow-test-numbers", False, "")
    assert event.trace[2] == TraceEntry("prefix-burst", True, "11 > 10 in 10m")
    assert (event["net"], event["asn"], event["country"]) == ("203.0.113.0/24", 64500, "GB")


async def test_aggregates_count_per_minute_and_hour_by_dimension(redis: Redis) -> None:
    """Per-minute and per-hour hashes count events by action, rule, country, prefix, /24, ASN."""
    rec = recorder(redis)
    for n in range(3):
        rec.record(sms(n), signals(), blocked(), blocked_outcome())
    rec.record(sms(9), signals(), None, Outcome("sent", 200, provider="sandbox"))
    await rec.flush()
    minute = 1_700_000_000 // 60
    agg = await redis.hgetall(f"{MINUTE_PREFIX}{minute}")
    assert agg[b"a|blocked"] == b"3"
    assert agg[b"a|sent"] == b"1"
    assert agg[b"r|blocked|prefix-burst"] == b"3"
    assert agg[b"c|blocked|GB"] == b"3"
    assert agg[b"p|blocked|447700"] == b"3"
    assert agg[b"n|blocked|203.0.113.0/24"] == b"3"
    assert agg[b"asn|blocked|64500"] == b"3"
    assert agg[b"s|block|asn-hosting"] == b"3"
    assert (await redis.hgetall(f"{HOUR_PREFIX}{minute // 60}"))[b"a|blocked"] == b"3"


async def test_aggregates_expire_after_the_retention_period(redis: Redis) -> None:
    """Aggregate hashes carry a TTL of events.retention_days."""
    rec = recorder(redis, retention_days=3)
    rec.record(sms(1), signals(), blocked(), blocked_outcome())
    await rec.flush()
    ttl = await redis.ttl(f"{MINUTE_PREFIX}{(1_700_000_000 // 60)}")
    assert 0 < ttl <= 3 * 86_400


async def test_full_buffer_drops_new_events_and_counts_them(redis: Redis) -> None:
    """Beyond events.buffer, record() drops and counts instead of growing."""
    rec = recorder(redis, buffer=10, batch_size=100)
    for n in range(25):
        rec.record(sms(n), signals(), blocked(), blocked_outcome())
    assert rec.pending == 10
    assert rec.stats.dropped == 15
    assert rec._metrics.events_dropped._value.get() == 15


async def test_redis_down_never_raises_and_keeps_at_most_the_buffer() -> None:
    """With Redis unreachable, record() still returns, writes fail softly and drops are counted."""
    dead: Redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    rec = recorder(dead, buffer=20, batch_size=5)
    for n in range(50):
        rec.record(sms(n), signals(), blocked(), blocked_outcome())
    assert await rec.flush() is False
    assert rec.pending == 20
    assert rec.stats.dropped == 30
    await rec.close(within_s=1.0)
    assert rec.stats.dropped == 50
    await dead.aclose()


async def test_events_buffered_during_an_outage_are_written_once_redis_answers(
    redis: Redis, redis_url: str
) -> None:
    """A failed batch goes back to the buffer and is written by the next successful flush."""
    dead: Redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    rec = recorder(dead, batch_size=5)
    for n in range(12):
        rec.record(sms(n), signals(), blocked(), blocked_outcome())
    assert await rec.flush() is False
    rec._redis = redis  # the same recorder, now reaching a live server
    assert await rec.flush()
    assert await redis.xlen(STREAM_KEY) == 12
    assert rec.stats.dropped == 0
    await dead.aclose()


def test_prefix_and_masked_recipient_never_nearly_spell_the_number() -> None:
    """Prefix and masked recipient together leave at least 4 digits of any number unknown."""
    for number in ("+6834002", "+4512345678", "+447400123456", "+14155550123", "+8613800138000"):
        prefix = safe_prefix(number, 8)
        shown = masked_recipient(number, prefix)
        assert shown.startswith("+" + prefix)
        assert shown.count("*") >= 4, shown


@pytest.mark.parametrize(
    ("number", "prefix"),
    [("+447285123456", "447285"), ("+4512345678", "451234"), ("+14155550123", "141555")],
)
def test_the_stored_prefix_keeps_prefix_digits_for_every_usual_number(
    number: str, prefix: str
) -> None:
    """A number of 10+ digits keeps all `events.prefix_digits` (6): the dashboard's block target."""
    assert safe_prefix(number, 6) == prefix


async def test_free_text_fields_never_hold_a_full_number(redis: Redis) -> None:
    """Reason, shadow reasons, trace details and provider errors are stored phone-masked."""
    number = "447700900123"
    text = f"prefix 15 digits {number} made 2 attempts in 10m"
    decision = Decision(
        Action.BLOCK,
        rule_id="per-number",
        reason=text,
        status=429,
        shadow=(ShadowHit("per-national", "block", f"national 7700900123 {text}"),),
        trace=(TraceStep("per-number", True, text),),
    )
    outcome = Outcome("failed", 502, error=f"provider refused +{number}: invalid")
    rec = recorder(redis)
    rec.record(sms(1), signals(), decision, outcome)
    await rec.flush()
    rows: Any = await redis.xrange(STREAM_KEY)
    stored = rows[0][1][b"e"]
    assert b"7700900123" not in stored
    assert b"900123" not in stored  # no tail digits beside the stored prefix 447700
    assert b"+44**********" in stored
