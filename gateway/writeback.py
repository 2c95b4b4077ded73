"""Write-behind from a bounded in-memory queue: the queue, the loop and the re-queue rule that the
decision event recorder and the feedback recorder share.

Producers `put` into a `Backlog` (full: the item is dropped and counted), which wakes the writer
when a batch is ready; one task per backlog calls `drain`, which flushes every `interval_s` (or at
once when woken) and backs off (0.1 s doubling to 5 s) while flushes fail. A failed batch goes
back to the head (`give_back`, with `requeue`), keeping the oldest items up to the capacity; what
did not fit is counted as dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Backlog(Generic[T]):
    """Items waiting to be written: bounded, never blocking, woken when a batch is ready."""

    def __init__(self, capacity: int, batch_size: int, on_drop: Callable[[int], None]) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self.items: deque[T] = deque()
        self.wake = asyncio.Event()
        self._on_drop = on_drop

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: T) -> bool:
        """Queue one item; False (and counted as dropped) when the backlog is full."""
        if len(self.items) >= self.capacity:
            self._on_drop(1)
            return False
        self.items.append(item)
        if len(self.items) >= self.batch_size:
            self.wake.set()
        return True

    def take(self) -> list[T]:
        """The oldest items, up to one batch."""
        return [self.items.popleft() for _ in range(min(self.batch_size, len(self.items)))]

    def give_back(self, batch: list[T]) -> None:
        """A batch that failed to be written: back at the head; what does not fit is dropped."""
        dropped = requeue(self.items, batch, self.capacity)
        if dropped:
            self._on_drop(dropped)

    def drop_all(self) -> None:
        if self.items:
            self._on_drop(len(self.items))
            self.items.clear()

    async def run(self, flush: Callable[[], Awaitable[bool]], interval_s: float) -> None:
        """`drain` this backlog with `flush` until cancelled."""
        await drain(
            flush, self.wake, self.__len__, batch_size=self.batch_size, interval_s=interval_s
        )


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
