"""Conversion figures of destinations, read from the feedback counters: what the auto-block
watcher judges and what a conversion dashboard page shows (typed, one query per call).

Counter keys are keyed hashes, so a destination is read by its value (`GB`, `998:9141`), never
listed from Redis: the watcher asks for the destinations it saw traffic to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from gateway.feedback.keys import FeedbackKeys, bucket_range


@dataclass(frozen=True, slots=True)
class Figures:
    """One destination over one window, with its country's 14-day baseline."""

    dimension: str  # cc, r4, r6
    value: str  # GB, 998:9141
    window: str  # 1h, 24h, 14d
    sent: int
    completed: int
    baseline: float | None  # the destination country's 14-day conversion (None: nothing sent)

    @property
    def conversion(self) -> float | None:
        return self.completed / self.sent if self.sent else None

    @property
    def vs_baseline(self) -> float | None:
        conv = self.conversion
        if conv is None or not self.baseline:
            return None
        return conv / self.baseline

    @property
    def shown(self) -> str:
        """`+998 9141` for a range, the code for a country."""
        if self.dimension == "cc":
            return self.value
        cc, _, digits = self.value.partition(":")
        return f"+{cc} {digits}"


class FiguresSource(Protocol):
    async def figures(
        self, dimension: str, values: Sequence[tuple[str, str]], window: str, now: float
    ) -> list[Figures]:
        """Figures of each (value, its country) for `dimension` over `window`."""
        ...


class FeedbackFigures:
    """`FiguresSource` over the feedback store's bucketed counters (one pipeline per call)."""

    def __init__(self, redis: Redis, keys: FeedbackKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def figures(
        self, dimension: str, values: Sequence[tuple[str, str]], window: str, now: float
    ) -> list[Figures]:
        if not values:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for value, country in values:
            self._sum(pipe, dimension, value, window, now)
            self._sum(pipe, "cc", country, "14d", now)
        replies = await pipe.execute()
        out: list[Figures] = []
        for i, (value, _country) in enumerate(values):
            sent, completed = _totals(replies[2 * i])
            base_sent, base_completed = _totals(replies[2 * i + 1])
            baseline = base_completed / base_sent if base_sent else None
            out.append(Figures(dimension, value, window, sent, completed, baseline))
        return out

    def _sum(self, pipe: Pipeline, dimension: str, value: str, window: str, now: float) -> None:
        res, first, last = bucket_range(window, now)
        fields = [f"{m}{b}" for m in ("s", "c") for b in range(first, last + 1)]
        pipe.hmget(self.keys.counter(res, dimension, value), fields)


def _totals(reply: Sequence[bytes | None]) -> tuple[int, int]:
    n = len(reply) // 2
    sent = sum(int(v) for v in reply[:n] if v is not None)
    completed = sum(int(v) for v in reply[n:] if v is not None)
    return sent, completed
