"""The feedback store on a real redis-server: open codes, completions once, bucketed counters."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.feedback.keys import PREFIX, bucket_range, destination_dims
from gateway.feedback.store import Completion, FeedbackStore
from tests.feedback.helpers import RECIPIENT, T0, make_store, sent

GB = {"cc": "GB", "r4": "44:7700", "r6": "44:770090", "net": "203.0.113.0/24", "asn": "64500"}


async def test_a_sent_code_is_open_and_counted_on_every_dimension(store: FeedbackStore) -> None:
    """A relayed code is one unused code for the recipient and one send per dimension value."""
    await store.record_sent([sent()], T0)
    view = await store.read(RECIPIENT, GB, T0 + 1)
    assert view.verified_at is None
    assert view.unused == {"1h": 1, "24h": 1, "14d": 1}
    for dim in GB:
        for window in ("1h", "24h", "14d"):
            assert view.counts[(dim, window)].sent == 1, (dim, window)


async def test_a_completion_claims_the_code_and_marks_the_recipient(store: FeedbackStore) -> None:
    """The login completes the open code: no longer unused, counted completed, recipient marked."""
    await store.record_sent([sent()], T0)
    [result] = await store.apply([Completion(RECIPIENT, T0 + 30, log_id="L1")], T0 + 31)
    assert (result.status, result.matched) == ("applied", True)
    view = await store.read(RECIPIENT, GB, T0 + 60)
    assert view.verified_at == int(T0 + 30)
    assert view.unused["1h"] == 0
    assert view.counts[("cc", "1h")].completed == 1
    assert view.counts[("asn", "24h")].conversion == 1.0


async def test_a_second_completion_does_not_complete_the_code_again(store: FeedbackStore) -> None:
    """One code completes once: a later login (another log_id) counts as unmatched."""
    await store.record_sent([sent()], T0)
    results = await store.apply(
        [Completion(RECIPIENT, T0 + 30, log_id="L1"), Completion(RECIPIENT, T0 + 400, log_id="L2")],
        T0 + 401,
    )
    assert [r.matched for r in results] == [True, False]
    view = await store.read(RECIPIENT, GB, T0 + 401)
    assert view.counts[("cc", "1h")].completed == 1
    assert view.counts[("cc", "1h")].unmatched == 1
    assert view.counts[("net", "1h")].unmatched == 0  # the source is unknown without a code


async def test_a_first_login_logged_as_signup_and_login_completes_once(
    store: FeedbackStore,
) -> None:
    """`ss` then `s` for one first login, two codes open: one completion, the older code stays
    unused."""
    await store.record_sent([sent(0, at=T0), sent(1, at=T0 + 20)], T0 + 20)
    results = await store.apply(
        [Completion(RECIPIENT, T0 + 30, log_id="SS"), Completion(RECIPIENT, T0 + 31, log_id="S")],
        T0 + 32,
    )
    assert [(r.status, r.matched) for r in results] == [("applied", True), ("repeat", False)]
    view = await store.read(RECIPIENT, GB, T0 + 60)
    assert view.counts[("cc", "1h")].completed == 1
    assert view.counts[("cc", "1h")].unmatched == 0
    assert view.unused["1h"] == 1


async def test_a_redelivered_log_id_changes_nothing(store: FeedbackStore, redis: Redis) -> None:
    """The same log_id twice: the second is a duplicate and no key changes."""
    await store.record_sent([sent(0), sent(1, at=T0 + 5)], T0 + 5)
    await store.apply([Completion(RECIPIENT, T0 + 30, log_id="L1")], T0 + 31)
    before = {k: await redis.dump(k) for k in await redis.keys(PREFIX + "*")}
    [again] = await store.apply([Completion(RECIPIENT, T0 + 30, log_id="L1")], T0 + 32)
    assert again.status == "duplicate"
    after = {k: await redis.dump(k) for k in await redis.keys(PREFIX + "*")}
    assert after == before


async def test_the_most_recent_code_sent_before_the_login_is_completed(
    store: FeedbackStore,
) -> None:
    """Two codes sent: the login completes the later one; the earlier stays unused."""
    await store.record_sent([sent(0, at=T0), sent(1, at=T0 + 100, ip="198.51.100.9")], T0 + 100)
    await store.apply([Completion(RECIPIENT, T0 + 130, log_id="L1")], T0 + 131)
    view = await store.read(RECIPIENT, {"ip": "198.51.100.9"}, T0 + 140)
    assert view.counts[("ip", "1h")].completed == 1
    first = await store.read(RECIPIENT, {"ip": "203.0.113.7"}, T0 + 140)
    assert first.counts[("ip", "1h")].completed == 0
    assert view.unused["1h"] == 1


async def test_a_code_sent_after_the_login_is_not_claimed_by_it(store: FeedbackStore) -> None:
    """A late-delivered completion does not claim a code sent after its own date (plus skew)."""
    await store.record_sent([sent(0, at=T0 + 600)], T0 + 600)
    [result] = await store.apply([Completion(RECIPIENT, T0, log_id="L1")], T0 + 601)
    assert result.matched is False
    assert (await store.read(RECIPIENT, {}, T0 + 601)).unused["1h"] == 1


async def test_a_late_delivery_is_counted_in_the_bucket_of_its_own_date(
    store: FeedbackStore,
) -> None:
    """A completion delivered two hours late lands in its own hour, not in the last hour."""
    await store.record_sent([sent()], T0)
    await store.apply([Completion(RECIPIENT, T0 + 30, log_id="L1")], T0 + 7200)
    view = await store.read(RECIPIENT, {"cc": "GB"}, T0 + 7200)
    assert view.counts[("cc", "1h")].completed == 0
    assert view.counts[("cc", "24h")].completed == 1


async def test_failures_count_without_closing_the_code(store: FeedbackStore) -> None:
    """A wrong code entered counts as a failure on the send's dimensions; the code stays open."""
    await store.record_sent([sent()], T0)
    await store.apply([Completion(RECIPIENT, T0 + 20, kind="failure", log_id="F1")], T0 + 21)
    view = await store.read(RECIPIENT, {"asn": "64500"}, T0 + 30)
    assert view.counts[("asn", "1h")].failed == 1
    assert view.unused["1h"] == 1
    assert view.verified_at is None


async def test_the_marker_expires_after_its_lifetime(redis: Redis) -> None:
    """The "completed a login before" marker lives verified_ttl_s from the login's own date."""
    store = make_store(redis, verified_ttl_s=180 * 86_400)
    await store.apply([Completion(RECIPIENT, T0, log_id="L1")], T0 + 10 * 86_400)
    assert await redis.ttl(store.keys.verified(RECIPIENT)) == 170 * 86_400


async def test_old_open_codes_beyond_the_cap_are_forgotten(redis: Redis) -> None:
    """At most max_open_codes open codes are kept per recipient (the newest)."""
    store = make_store(redis, max_open_codes=3)
    await store.record_sent([sent(i, at=T0 + i) for i in range(5)], T0 + 5)
    assert await redis.zcard(store.keys.open_codes(RECIPIENT)) == 3


async def test_key_names_and_values_never_hold_the_number_or_ip(
    store: FeedbackStore, redis: Redis
) -> None:
    """Neither the phone number nor the IP appears in any key name or stored value."""
    await store.record_sent([sent()], T0)
    for key in await redis.keys("*"):
        assert b"7700900123" not in key
        assert b"203.0.113" not in key
        if await redis.type(key) == b"zset":
            for member in await redis.zrange(key, 0, -1):
                assert b"7700900123" not in member
                assert b"203.0.113" not in member


async def test_the_published_lua_sum_matches_the_reader(store: FeedbackStore) -> None:
    """SUM_LUA's fb_sum over a window's bucket range gives what the reader reports."""
    await store.record_sent([sent(i, at=T0 + i * 400) for i in range(5)], T0 + 2000)
    res, first, last = bucket_range("1h", T0 + 2000)
    key = store.keys.counter(res, "cc", "GB")
    assert await store.run_sum(key, "s", first, last) == 5
    view = await store.read(RECIPIENT, {"cc": "GB"}, T0 + 2000)
    assert view.counts[("cc", "1h")].sent == 5


async def test_stale_buckets_of_a_rarely_written_key_are_dropped(
    store: FeedbackStore, redis: Redis
) -> None:
    """A key written once a day for months keeps only its live buckets."""
    for day in range(90):
        await store.record_sent([sent(day, at=T0 + day * 86_400)], T0 + day * 86_400)
    key = store.keys.counter("d", "cc", "GB")
    assert await redis.hlen(key) <= 4 * 15 + 8


def test_destination_dims_use_national_digits() -> None:
    """Ranges are the calling code with the first 4 and 6 national digits."""
    assert destination_dims("+998901234567") == {"cc": "UZ", "r4": "998:9012", "r6": "998:901234"}
