"""Refusals logged as one line per rule per second instead of one per request (under an attack).

With `logging.aggregate_refusals: true`, a POST /sms refused by a rule (outcome `blocked` or
`dropped`) is counted here instead of getting its own request line; each second's counts become
one `refusals` line per rule and outcome, written when a later second starts (or by a timer a
second later, so a burst's last second is not held back). Every other request keeps its line.
The lines go through the same structlog pipeline, so the one scrubber in gateway/logs.py still
sees them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.clock import Clock

REFUSED = frozenset({"blocked", "dropped"})


class RefusalAggregator:
    """Counts refusals per (second, rule, outcome) and logs each second's counts once."""

    def __init__(self, clock: Clock, log: Any) -> None:
        self._clock = clock
        self._log = log
        self._counts: dict[tuple[int, str, str], int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, rule: str, outcome: str) -> None:
        second = int(self._clock.time())
        self._emit(before=second)
        key = (second, rule, outcome)
        self._counts[key] = self._counts.get(key, 0) + 1
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(1.0, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._emit(before=int(self._clock.time()))
        if self._counts:
            self._timer = asyncio.get_running_loop().call_later(1.0, self._tick)

    def flush(self) -> None:
        """Log every count still held (at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._emit(before=None)

    def _emit(self, before: int | None) -> None:
        if not self._counts:
            return
        done = [k for k in self._counts if before is None or k[0] < before]
        for key in sorted(done):
            second, rule, outcome = key
            self._log.info(
                "refusals",
                path="/sms",
                second=second,
                rule=rule,
                outcome=outcome,
                count=self._counts.pop(key),
            )
