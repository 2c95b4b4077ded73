"""The event recorder: every decision recorded off the request path, in batches.

The message path depends only on the `EventSink` protocol: `record` must never block or raise.
`EventRecorder.record` appends a reference to the (immutable) request, signals, decision and outcome
to a bounded in-memory buffer (well under a microsecond); a background task turns them into events
(`build_event`) and writes them to Redis in batches, one pipeline per batch (see `keys`). Counts of
one batch are summed in memory first, so a burst of 500 blocked events costs a few dozen commands,
not thousands. When Redis is down the batch goes back to the buffer and the writer retries with
backoff; whatever does not fit in the buffer is dropped and counted (`smsguard_events_dropped`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from gateway.clock import Clock
from gateway.events.build import build_event
from gateway.events.keys import (
    ASN_NAMES_KEY,
    HOUR_PREFIX,
    MINUTE_PREFIX,
    STREAM_KEY,
    aggregate_fields,
)
from gateway.events.schema import DecisionEvent, Outcome
from gateway.logs import PhoneHasher, get_logger
from gateway.metrics import Metrics
from gateway.models import Decision, SmsRequest
from gateway.settings import EventsSettings
from gateway.signals import Signals
from gateway.writeback import Backlog

log = get_logger("gateway.events")

# The writer builds events in the event loop: it lets requests in after this many.
_YIELD_EVERY = 50


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
        self._buffer: Backlog[_Pending] = Backlog(settings.buffer, settings.batch_size, self._drop)
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
        if self._buffer.put((sms, signals, decision, outcome)):
            self.stats.recorded += 1

    def _drop(self, n: int) -> None:
        self.stats.dropped += n
        self._metrics.events_dropped.inc(n)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- the writer -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until cancelled; back off while Redis fails."""
        await self._buffer.run(self.flush, self._settings.flush_interval_ms / 1000)

    async def flush(self) -> bool:
        """Write everything buffered now, one pipeline per batch; False if Redis failed."""
        while self._buffer:
            batch = self._buffer.take()
            try:
                await self._write(batch)
                self.stats.failing = False
            except (RedisError, OSError, TimeoutError) as exc:
                self.stats.failing = True
                self.stats.failures += 1
                # Keep the oldest unwritten events up to the buffer size; newer ones are dropped.
                self._buffer.give_back(batch)
                if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                    log.warning(
                        "events not written, will retry",
                        error=str(exc),
                        pending=len(self._buffer),
                        failures=self.stats.failures,
                    )
                return False
        return True

    async def _build(self, batch: list[_Pending]) -> list[tuple[DecisionEvent, str]]:
        """Events and their JSON, yielding to the loop every few so requests never wait long."""
        built: list[tuple[DecisionEvent, str]] = []
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
                built.append((event, event.to_json()))
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
            minute = int(event.time // 60)
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
        orgs: dict[FieldT, EncodableT] = {
            str(e.get("asn")): str(e.get("as_org"))
            for e in batch
            if e.get("asn") and e.get("as_org")
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
        self._buffer.drop_all()
