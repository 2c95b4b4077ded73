"""Write-behind from a bounded in-memory queue: the loop and the re-queue rule that the decision
event recorder and the feedback recorder share.

Producers append to a deque and set an event when a batch is ready; one task per queue calls
`drain`, which flushes every `interval_s` (or at once when woken) and backs off (0.1 s doubling to
5 s) while flushes fail. A failed batch goes back to the head with `requeue`, keeping the oldest
items up to the queue's capacity; the caller counts what did not fit.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def drain(
    flush: Callable[[], Awaitable[bool]],
    wake: asyncio.Event,
    backlog: Callable[[], int],
    *,
    batch_size: int,
    interval_s: float,
) -> None:
    """Flush until cancelled: when woken, every interval_s, or after a backoff if one failed.

    A cancel can be swallowed on its way in (on 3.11 one that meets asyncio.timeout's own expiry
    surfaces as TimeoutError; a Redis client can turn one into a connection error that a flush
    counts as a failed write): the loop checks for a pending cancel on every turn, so shutdown
    never waits on a writer that lost its cancellation."""
    me = asyncio.current_task()
    backoff = 0.0
    while True:
        if me is not None and me.cancelling():
            raise asyncio.CancelledError
        if backoff:
            await asyncio.sleep(backoff)
        elif backlog() < batch_size:
            try:
                async with asyncio.timeout(interval_s):
                    await wake.wait()
            except TimeoutError:
                pass
        wake.clear()
        ok = await flush()
        backoff = 0.0 if ok else min(max(backoff * 2, 0.1), 5.0)


def requeue(queue: deque[T], batch: list[T], capacity: int) -> int:
    """Put a failed batch back at the head (oldest first, up to capacity); return how many were
    dropped."""
    keep = batch[: max(capacity - len(queue), 0)]
    queue.extendleft(reversed(keep))
    return len(batch) - len(keep)
