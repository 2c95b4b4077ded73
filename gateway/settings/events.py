"""Settings of the event log, and the SMS prices its figures are costed with."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gateway.settings.base import Section


class PricesSettings(Section):
    currency: str = "USD"
    # Price of one SMS segment when a country has no entry.
    default: float = Field(0.05, ge=0)
    per_country: dict[str, float] = {}
    # The operator's own rates, a CSV like gateway/data/sms-prices.csv, read instead of the
    # shipped table (budgets and money saved); `per_country` above still wins over it.
    file: Path | None = None


class EventsSettings(Section):
    """The decision event log (owned by gateway/events.py)."""

    # Recent events kept in the Redis stream: at most this many (approximately) ...
    stream_max: int = Field(default=100_000, ge=100, le=10_000_000)
    # ... and none older than this many hours.
    stream_max_age_hours: float = Field(default=168.0, gt=0)
    # Days the per-minute and per-hour aggregates (dashboard charts and counts) are kept.
    retention_days: int = Field(default=14, ge=1, le=366)
    # Events waiting in memory to be written; beyond this new events are dropped and counted.
    buffer: int = Field(default=10_000, ge=10, le=1_000_000)
    # Events written per Redis pipeline, and the longest an event waits before a write.
    batch_size: int = Field(default=500, ge=1, le=10_000)
    flush_interval_ms: int = Field(default=250, ge=1, le=60_000)
    # Digits of the recipient kept as its "prefix" (country code + range; never the full number).
    prefix_digits: int = Field(default=6, ge=1, le=8)
