"""The window a budget counts: a calendar hour or day in a time zone, or a rolling duration.

A calendar period is named by its local start ("2026-12-03", "2026-12-03T14") and the counter key
carries that name, so the day rolls over at local midnight without touching Redis: the next
message simply counts in the next day's key (the old one expires). A rolling window counts in
one-minute buckets: what was spent in the last `seconds`, to the minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["hour", "day", "rolling"]
BUCKET_S = 60
# A calendar counter outlives its period by this much (a late release still finds it).
_GRACE_S = 3600


@dataclass(frozen=True)
class Window:
    """Where one decision counts: the period's name, its counter's lifetime, its bucket."""

    name: str  # "" for a rolling window (one counter), else the local period start
    ttl_ms: int  # how long the counter must live from now
    rolling_ms: int  # 0 for a calendar period, else the window length
    bucket: int  # the minute this decision counts in (rolling windows)
    ends_at: float  # epoch seconds when this period ends (calendar) or 0


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    seconds: int  # the rolling window's length; 3600 / 86400 for calendar periods
    timezone: str = "UTC"

    @property
    def adjective(self) -> str:
        if self.kind == "hour":
            return "hourly"
        if self.kind == "day":
            return "daily"
        hours, rest = divmod(self.seconds, 3600)
        span = f"{hours} h" if not rest else f"{self.seconds // 60} min"
        return f"rolling {span}"

    def window(self, now: float) -> Window:
        if self.kind == "rolling":
            ms = self.seconds * 1000
            return Window("", ms + BUCKET_S * 1000, ms, int(now // BUCKET_S), 0.0)
        zone = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(now, zone)
        if self.kind == "day":
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            name = start.strftime("%Y-%m-%d")
            # Local midnight of the next day (23 or 25 hours away across a DST change).
            nxt = datetime.combine(start.date() + timedelta(days=1), start.time(), zone)
        else:
            start = local.replace(minute=0, second=0, microsecond=0)
            name = start.strftime("%Y-%m-%dT%H")
            nxt = start + timedelta(hours=1)
        ends_at = nxt.timestamp()
        ttl_ms = int((ends_at - now + _GRACE_S) * 1000)
        return Window(name, ttl_ms, 0, 0, ends_at)
