"""Applying a batch of completions now, within a deadline, and counting what happened.

The HTTP ways in (log stream, login Action) and the backfill apply synchronously: the caller is told
only once the batch is stored, so Auth0 (or the backfill's checkpoint) retries what did not land,
and log_ids make the retry harmless.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.exceptions import RedisError

from gateway.clock import Clock
from gateway.errors import SmsGuardError
from gateway.feedback.auth0log import Batch
from gateway.feedback.store import FeedbackStore
from gateway.metrics import Metrics


class StoreUnavailable(SmsGuardError):
    """Redis failed or was too slow: nothing can be promised, the sender should retry."""


@dataclass(frozen=True)
class Summary:
    records: int
    accepted: int
    duplicates: int
    ignored: int
    matched: int

    def as_json(self) -> dict[str, int]:
        return {
            "records": self.records,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "matched": self.matched,
        }


class Ingest:
    def __init__(
        self, store: FeedbackStore, *, clock: Clock, metrics: Metrics, deadline_s: float = 0.8
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.deadline_s = deadline_s

    async def apply(self, batch: Batch, *, source: str) -> Summary:
        if batch.completions and not self.store.keys.ready:
            raise StoreUnavailable("the counter hash key is not known yet")
        try:
            async with asyncio.timeout(self.deadline_s):
                results = await self.store.apply(batch.completions, self.clock.time())
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(str(exc) or type(exc).__name__) from exc
        duplicates = sum(1 for r in results if r.status == "duplicate")
        accepted = len(results) - duplicates
        counter = self.metrics.feedback_records
        counter.labels(source, "accepted").inc(accepted)
        counter.labels(source, "duplicate").inc(duplicates)
        counter.labels(source, "ignored").inc(batch.ignored)
        return Summary(
            records=batch.records,
            accepted=accepted,
            duplicates=duplicates,
            ignored=batch.ignored,
            matched=sum(1 for r in results if r.status == "applied" and r.matched),
        )

    def rejected(self, source: str) -> None:
        self.metrics.feedback_records.labels(source, "rejected").inc()
