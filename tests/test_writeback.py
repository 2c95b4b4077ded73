"""The shared write-behind loop (decision events, completion feedback) stops when cancelled."""

from __future__ import annotations

import asyncio

from gateway.writeback import drain


async def test_drain_stops_even_when_a_flush_swallows_the_cancel() -> None:
    """A cancel that lands inside a flush which swallows it (as a Redis client can, reporting a
    failed write) still ends the loop: shutdown does not wait forever on the writer."""
    entered = asyncio.Event()

    async def flush() -> bool:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return False  # what a client that turns the cancel into an error looks like
        return True

    wake = asyncio.Event()
    wake.set()
    task = asyncio.create_task(drain(flush, wake, lambda: 0, batch_size=1, interval_s=60))
    await entered.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5.0)
    assert done, "the writer kept running after it was cancelled"
    assert task.cancelled()
