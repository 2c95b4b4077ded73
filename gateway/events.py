"""Event log: every decision, recorded off the request path (Redis stream + aggregates).

The message path depends only on the `EventSink` protocol: `record` must never block or raise.
`EventRecorder.record` appends a reference to the (immutable) request, signals, decision and outcome
to a bounded in-memory buffer (well under a microsecond); a background task turns them into compact,
phone-safe events (masked recipient, a keyed hash and a short prefix, never the full number) and
writes them to Redis in batches, one pipeline per batch:

    XADD smsguard:events MAXLEN ~ stream_max     the recent events (plus XTRIM MINID ~ by age)
    HINCRBY smsguard:agg:m:<minute> <field> n    per-minute counts, EXPIRE retention_days
    HINCRBY smsguard:agg:h:<hour>   <field> n    per-hour counts (week charts), same expiry

Aggregate fields are `<dim>|<action>|<value>` (see `DIMENSIONS`); counts of one batch are summed in
memory first, so a burst of 500 blocked events costs a few dozen commands, not thousands. When Redis
is down the batch goes back to the buffer and the writer retries with backoff; whatever does not fit
in the buffer is dropped and counted (`smsguard_events_dropped`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.appkeys import CLOCK, EVENTS, METRICS, PHONE_HASH, READINESS, REDIS, SETTINGS
from gateway.clock import Clock
from gateway.health import CheckResult
from gateway.logs import PhoneHasher, get_logger, mask_phones_in
from gateway.metrics import Metrics
from gateway.models import Decision, SmsRequest
from gateway.settings import EventsSettings
from gateway.signals import Signals
from gateway.signals.registry import shown as shown_signals
from gateway.signals.registry import stored as stored_signals

log = get_logger("gateway.events")

STREAM_KEY = "smsguard:events"
MINUTE_PREFIX = "smsguard:agg:m:"
HOUR_PREFIX = "smsguard:agg:h:"
# ASN -> organisation name, for the dashboard's top lists (aggregates count by ASN number only).
ASN_NAMES_KEY = "smsguard:events:asn-names"

# Aggregate dimension code -> event field counted under it (per action): the rule, the prefix,
# and each signal the registry shows in a top list.
DIMENSIONS: dict[str, str] = {
    "r": "rule",
    "p": "prefix",
    **{how.top: where.field for where, how in shown_signals() if how.top},
}
# Actions an event can have (from Outcome.status).
ACTIONS = ("sent", "blocked", "dropped", "failed", "error")
# Bounds that keep one event small whatever the rules produce.
_MAX_TRACE = 60
_MAX_DETAIL = 200
_MAX_TEXT = 300
# The writer builds events in the event loop: it lets requests in after this many.
_YIELD_EVERY = 50


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened after the decision."""

    status: str  # "sent", "blocked", "dropped", "failed" (every provider failed), "error"
    http_status: int
    provider: str | None = None
    provider_message_id: str | None = None
    error: str | None = None
    latency_ms: float = 0.0


class EventSink(Protocol):
    def record(
        self, sms: SmsRequest, signals: Signals | None, decision: Decision | None, outcome: Outcome
    ) -> None:
        """Queue one event; never blocks, never raises (drops with a counter when full)."""
        ...


class NullSink:
    """Records nothing (tools that evaluate requests without a Redis)."""

    def record(
        self, sms: SmsRequest, signals: Signals | None, decision: Decision | None, outcome: Outcome
    ) -> None:
        return None


# The tail of a masked number ("+44*******123", or "44*******123" in velocity reasons).
_MASKED_TAIL = re.compile(r"(?<!\d)(\d{2}\*+)\d{3}(?!\d)")


def _cut(text: str | None, limit: int = _MAX_TEXT) -> str | None:
    """Free text for an event: phone-number-like runs masked, then cut to `limit` characters.

    The tail digits a log line keeps are starred too: beside the event's `prefix` they would leave
    fewer than HIDDEN_DIGITS unknown.
    """
    if text is None:
        return None
    text = _MASKED_TAIL.sub(r"\1***", mask_phones_in(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_event(
    sms: SmsRequest,
    signals: Signals | None,
    decision: Decision | None,
    outcome: Outcome,
    *,
    hasher: PhoneHasher,
    prefix_digits: int,
) -> dict[str, Any]:
    """The stored form of one decision: phone-safe (masked + keyed hash + prefix only)."""
    prefix = safe_prefix(sms.recipient, prefix_digits)
    event: dict[str, Any] = {
        "time": sms.received_at,
        "id": sms.request_id,
        "action": outcome.status,
        "http_status": outcome.http_status,
        "to": masked_recipient(sms.recipient, prefix),
        "phone_hash": hasher(sms.recipient),
        "prefix": prefix,
        "ip": sms.ip,
        "latency_ms": round(outcome.latency_ms, 2),
    }
    if outcome.provider:
        event["provider"] = outcome.provider
        event["provider_message_id"] = outcome.provider_message_id
    if outcome.error:
        event["error"] = _cut(outcome.error)
    if signals is not None:
        for spec, how in stored_signals():
            value = spec.get(signals)
            if isinstance(value, str) and how.limit is not None:
                value = _cut(value, how.limit)
            # An unknown signal never hides what the request itself said (the raw IP).
            if value is not None or event.get(how.field) is None:
                event[how.field] = value
    if decision is not None:
        event["decision"] = decision.action.value
        event["rule"] = decision.rule_id
        event["reason"] = _cut(decision.reason)
        if decision.tags:
            event["tags"] = list(decision.tags)
        if decision.shadow:
            event["shadow"] = [
                {"rule": h.rule_id, "action": h.action, "reason": _cut(h.reason)}
                for h in decision.shadow
            ]
        if decision.trace:
            # Every rule evaluated, in order; the detail only where it matched (keeps events small).
            event["trace"] = [
                [s.rule_id, s.matched, (_cut(s.detail, _MAX_DETAIL) or "") if s.matched else ""]
                for s in decision.trace[:_MAX_TRACE]
            ]
            if len(decision.trace) > _MAX_TRACE:
                event["trace_cut"] = len(decision.trace) - _MAX_TRACE
    return event


# Digits of a recipient no event shows: the prefix (the dashboard's block target) is kept whole,
# so the masked recipient gives up tail digits instead of the prefix giving up its own.
HIDDEN_DIGITS = 4
_TAIL_MAX = 3


def safe_prefix(number: str, digits: int) -> str:
    """The first `digits` digits; shorter only for a number so short that they would leave fewer
    than HIDDEN_DIGITS unknown (a 7-digit island number)."""
    body = number.lstrip("+")
    return body[: max(0, min(digits, len(body) - HIDDEN_DIGITS))]


def masked_recipient(number: str, prefix: str) -> str:
    """The recipient as events show it: the prefix, stars, and as many of the last 3 digits as
    leave HIDDEN_DIGITS unknown: +447285123456 with prefix 447285 is "+447285****56"."""
    if not number:
        return ""
    body = number.lstrip("+")
    tail = max(0, min(_TAIL_MAX, len(body) - len(prefix) - HIDDEN_DIGITS))
    return "+" + prefix + "*" * (len(body) - len(prefix) - tail) + body[len(body) - tail :]


def aggregate_fields(event: dict[str, Any]) -> Iterable[str]:
    """The aggregate hash fields one event increments."""
    action = event["action"]
    yield f"a|{action}"
    for code, name in DIMENSIONS.items():
        value = event.get(name)
        if value is not None and value != "":
            yield f"{code}|{action}|{value}"
    for hit in event.get("shadow", ()):
        yield f"s|{hit['action']}|{hit['rule']}"


_Pending = tuple[SmsRequest, Signals | None, Decision | None, Outcome]


@dataclass
class RecorderStats:
    """Counters for tests and /readyz details."""

    recorded: int = 0
    dropped: int = 0
    written: int = 0
    pipelines: int = 0
    failures: int = 0
    failing: bool = False  # the last write failed (Redis down or slow)


class EventRecorder:
    """The EventSink of a running gateway: bounded buffer in memory, batched writes to Redis."""

    def __init__(
        self,
        redis: Redis,
        settings: EventsSettings,
        *,
        clock: Clock,
        metrics: Metrics,
        hasher: PhoneHasher,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._hasher = hasher
        self._buffer: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self.stats = RecorderStats()
        self._retention_s = settings.retention_days * 86_400
        self._max_age_ms = int(settings.stream_max_age_hours * 3_600_000)

    # -- the request path -------------------------------------------------------------------------

    def record(
        self, sms: SmsRequest, signals: Signals | None, decision: Decision | None, outcome: Outcome
    ) -> None:
        """Queue one event; never blocks, never raises (drops with a counter when full)."""
        # Only a reference to the (immutable) request objects is kept here: the event itself is
        # built by the writer, off the request's latency.
        if len(self._buffer) >= self._settings.buffer:
            self._drop(1)
            return
        self._buffer.append((sms, signals, decision, outcome))
        self.stats.recorded += 1
        if len(self._buffer) >= self._settings.batch_size:
            self._wake.set()

    def _drop(self, n: int) -> None:
        self.stats.dropped += n
        self._metrics.events_dropped.inc(n)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- the writer -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until cancelled; back off while Redis fails."""
        interval = self._settings.flush_interval_ms / 1000
        backoff = 0.0
        while True:
            if backoff:
                await asyncio.sleep(backoff)
            elif not self._buffer or len(self._buffer) < self._settings.batch_size:
                try:
                    async with asyncio.timeout(interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            self._wake.clear()
            ok = await self.flush()
            backoff = 0.0 if ok else min(max(backoff * 2, 0.1), 5.0)

    async def flush(self) -> bool:
        """Write everything buffered now, one pipeline per batch; False if Redis failed."""
        while self._buffer:
            batch = [
                self._buffer.popleft()
                for _ in range(min(self._settings.batch_size, len(self._buffer)))
            ]
            try:
                await self._write(batch)
                self.stats.failing = False
            except (RedisError, OSError, TimeoutError) as exc:
                self.stats.failing = True
                self.stats.failures += 1
                self._requeue(batch)
                if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                    log.warning(
                        "events not written, will retry",
                        error=str(exc),
                        pending=len(self._buffer),
                        failures=self.stats.failures,
                    )
                return False
        return True

    def _requeue(self, batch: list[_Pending]) -> None:
        # Keep the oldest unwritten events up to the buffer size; newer ones beyond it are dropped.
        room = self._settings.buffer - len(self._buffer)
        keep = batch[: max(room, 0)]
        if len(keep) < len(batch):
            self._drop(len(batch) - len(keep))
        self._buffer.extendleft(reversed(keep))

    async def _build(self, batch: list[_Pending]) -> list[tuple[dict[str, Any], str]]:
        """Events and their JSON, yielding to the loop every few so requests never wait long."""
        built = []
        for i, (sms, signals, decision, outcome) in enumerate(batch, 1):
            try:
                event = build_event(
                    sms,
                    signals,
                    decision,
                    outcome,
                    hasher=self._hasher,
                    prefix_digits=self._settings.prefix_digits,
                )
                built.append((event, json.dumps(event, separators=(",", ":"))))
            except Exception:  # one odd request must not lose the batch
                log.exception("event not recorded")
                self._drop(1)
            if i % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return built

    async def _write(self, pending: list[_Pending]) -> None:
        built = await self._build(pending)
        batch = [event for event, _ in built]
        counts: Counter[tuple[str, str]] = Counter()
        for event in batch:
            minute = int(event["time"] // 60)
            hour = minute // 60
            for field in aggregate_fields(event):
                counts[(f"{MINUTE_PREFIX}{minute}", field)] += 1
                counts[(f"{HOUR_PREFIX}{hour}", field)] += 1
        pipe = self._redis.pipeline(transaction=False)
        for _, raw in built:
            pipe.xadd(STREAM_KEY, {"e": raw}, maxlen=self._settings.stream_max, approximate=True)
        min_id = int(self._clock.time() * 1000) - self._max_age_ms
        if min_id > 0:
            pipe.xtrim(STREAM_KEY, minid=min_id, approximate=True)
        for (key, field), n in counts.items():
            pipe.hincrby(key, field, n)
        for key in {k for k, _ in counts}:
            pipe.expire(key, self._retention_s)
        orgs: dict[Any, Any] = {
            str(e["asn"]): str(e["as_org"]) for e in batch if e.get("asn") and e.get("as_org")
        }
        if orgs:
            pipe.hset(ASN_NAMES_KEY, mapping=orgs)
        await pipe.execute()
        self.stats.pipelines += 1
        self.stats.written += len(batch)

    async def close(self, within_s: float = 2.0) -> None:
        """Last flush on shutdown, bounded in time; what cannot be written is counted as dropped."""
        try:
            async with asyncio.timeout(within_s):
                if await self.flush():
                    return
        except TimeoutError:
            pass
        if self._buffer:
            self._drop(len(self._buffer))
            self._buffer.clear()


def decode_event(stream_id: bytes | str, fields: dict[bytes, bytes]) -> dict[str, Any]:
    """One stream entry back into an event dict, with its stream id as `sid`."""
    raw = fields.get(b"e", b"{}")
    event: dict[str, Any] = json.loads(raw)
    event["sid"] = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return event


def minutes(now: float, count: int) -> list[int]:
    """The last `count` epoch-minutes up to and including the one holding `now`, oldest first."""
    last = int(now // 60)
    return list(range(last - count + 1, last + 1))


def hours(now: float, count: int) -> list[int]:
    last = int(now // 3600)
    return list(range(last - count + 1, last + 1))


def setup(app: web.Application) -> None:
    """Install the Redis event recorder as app[EVENTS]; its writer runs while the app runs."""

    async def recorder(app: web.Application) -> AsyncIterator[None]:
        sink = EventRecorder(
            app[REDIS],
            app[SETTINGS].events,
            clock=app[CLOCK],
            metrics=app[METRICS],
            hasher=app[PHONE_HASH],
        )
        app[EVENTS] = sink

        async def events_check() -> CheckResult:
            st = sink.stats
            detail = f"pending {sink.pending}, written {st.written}, dropped {st.dropped}" + (
                ", writes failing" if st.failing else ""
            )
            return CheckResult(not st.failing, detail)

        # Not required: the gateway keeps serving without its event log.
        app[READINESS].add("events", events_check, required=False)
        task = asyncio.create_task(sink.run(), name="events-writer")
        try:
            yield
        finally:
            # Cancel until done: a cancellation that coincides with the wait's own timeout can be
            # swallowed (asyncio.timeout on 3.11), and must not hang the shutdown.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.2)
            await sink.close()

    # A placeholder until startup (app[REDIS] exists only then); replaced by the recorder.
    app[EVENTS] = NullSink()
    app.cleanup_ctx.append(recorder)
