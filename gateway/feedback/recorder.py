"""Off the request path: a bounded queue of feedback writes and the task that drains it.

`/sms` calls `sent(...)` after a message was relayed, the PIN step calls `completed(...)`; both only
append to memory (never block, never raise). A background task writes batches, one pipeline each;
while Redis fails the batch goes back to the queue and the writer backs off. Whatever does not fit
the queue is dropped and counted (`smsguard_feedback_dropped`), never lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError

from gateway.clock import Clock
from gateway.feedback.keys import SendDims
from gateway.feedback.store import Completion, FeedbackStore, Sent
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.models import SmsRequest
from gateway.phone import phone_facts
from gateway.signals import Signals
from gateway.writeback import Backlog

log = get_logger("gateway.feedback")

Item = Sent | Completion


@dataclass
class RecorderStats:
    queued: int = 0
    dropped: int = 0
    written: int = 0
    failures: int = 0


class FeedbackRecorder:
    """The feedback sink of a running gateway: bounded memory, batched writes to Redis."""

    def __init__(
        self,
        store: FeedbackStore,
        *,
        clock: Clock,
        metrics: Metrics,
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.25,
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.stats = RecorderStats()
        self._queue: Backlog[Item] = Backlog(capacity, batch_size, self._drop)

    # -- producers (request paths) ---------------------------------------------------------------

    def sent(self, sms: SmsRequest, signals: Signals) -> None:
        """A code was relayed: open it for the recipient (the POST /sms hook)."""
        dims = SendDims(
            e164=signals.e164,
            cc=signals.phone_country,
            ip=signals.ip,
            net=signals.ip_net,
            asn=signals.asn,
            ipcc=signals.ip_country,
        )
        self._put(Sent(dims, sms.received_at, sms.request_id))

    def completed(self, e164: str, *, source: str) -> None:
        """A login completed now without an Auth0 log id (PIN step)."""
        self._put(Completion(phone_facts(e164).e164, self.clock.time(), source=source))

    def _put(self, item: Item) -> None:
        if self._queue.put(item):
            self.stats.queued += 1

    def _drop(self, n: int) -> None:
        self.stats.dropped += n
        self.metrics.feedback_dropped.inc(n)

    @property
    def pending(self) -> int:
        return len(self._queue)

    # -- the writer ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until cancelled; back off while Redis fails or the secret is unknown."""
        await self._queue.run(self.flush, self.flush_interval_s)

    async def flush(self) -> bool:
        """Write everything queued now; False when Redis failed (the batch is kept)."""
        if self._queue and not self.store.keys.ready:
            return False
        while self._queue:
            batch = self._queue.take()
            now = self.clock.time()
            try:
                commands = [
                    self.store.sent_command(i, now)
                    if isinstance(i, Sent)
                    else self.store.completion_command(i, now)
                    for i in batch
                ]
                await self.store.execute(commands)
            except (RedisError, OSError, TimeoutError) as exc:
                self.stats.failures += 1
                self._queue.give_back(batch)
                if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                    log.warning("feedback not written, will retry", error=str(exc))
                return False
            self.stats.written += len(batch)
        return True
