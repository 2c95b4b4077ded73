"""Refusal surges: a country, number range or rule refusing far more than its own recent level.

Every `every_s` the watch reads the decision-event aggregates (gateway/events/keys.py: per-minute
and per-hour hashes of counts by dimension and action) for the last `window_minutes` and the last
`baseline_hours`, and fires `surge:<dimension>:<value>` when the window's refusals (blocked +
dropped) reach `min_refusals` and `factor` times the baseline's average for a window of that
length. Each replica looks; the incident store makes it one alert, resolved once the surge has not
been seen for `alerts.resolve_after_s`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.alerts.model import Alert, AlertSink, Severity
from gateway.clock import Clock
from gateway.events.keys import HOUR_PREFIX, MINUTE_PREFIX
from gateway.logs import get_logger
from gateway.settings.alerts import SurgeSettings

log = get_logger("gateway.alerts.surge")

REFUSED = ("blocked", "dropped")
# Aggregate dimension code -> (what the alert calls it, dashboard filter for its events).
WATCHED = {"c": ("country", "country"), "p": ("range", "prefix"), "r": ("rule", "rule")}


def refusals(buckets: Iterable[dict[str, int]]) -> Counter[tuple[str, str]]:
    """Refusals per (dimension, value) summed over the buckets."""
    total: Counter[tuple[str, str]] = Counter()
    for bucket in buckets:
        for field, count in bucket.items():
            dim, _, rest = field.partition("|")
            action, _, value = rest.partition("|")
            if dim in WATCHED and action in REFUSED and value:
                total[(dim, value)] += count
    return total


def shown(dim: str, value: str) -> str:
    if dim == "p":
        return f"+{value}"  # a 6-digit number range, never a whole number
    return value


class SurgeWatch:
    def __init__(
        self, redis: Redis, alerts: AlertSink, clock: Clock, settings: SurgeSettings
    ) -> None:
        self._redis = redis
        self._alerts = alerts
        self._clock = clock
        self._settings = settings

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.every_s)
            try:
                await self.check()
            except (RedisError, OSError) as exc:
                log.warning("refusal surge check skipped: Redis unavailable", error=str(exc))

    async def check(self) -> list[Alert]:
        """Look once; fire (and return) an alert per surging country, range or rule."""
        s = self._settings
        now = self._clock.time()
        minute, hour = int(now // 60), int(now // 3600)
        pipe = self._redis.pipeline(transaction=False)
        for m in range(minute - s.window_minutes + 1, minute + 1):
            pipe.hgetall(f"{MINUTE_PREFIX}{m}")
        # Whole hours before the current one: the window itself is not part of its baseline.
        for h in range(hour - s.baseline_hours, hour):
            pipe.hgetall(f"{HOUR_PREFIX}{h}")
        raw: list[dict[bytes, bytes]] = await pipe.execute()
        decoded = [{k.decode(): int(v) for k, v in r.items()} for r in raw]
        recent = refusals(decoded[: s.window_minutes])
        baseline = refusals(decoded[s.window_minutes :])
        windows = s.baseline_hours * 60 / s.window_minutes
        fired = []
        for (dim, value), count in recent.items():
            level = baseline[(dim, value)] / windows
            if count < s.min_refusals or count < s.factor * max(level, 1.0):
                continue
            what, filter_key = WATCHED[dim]
            alert = Alert(
                f"surge:{dim}:{value}",
                Severity.WARNING,
                f"Refusals surge for {what} {shown(dim, value)}",
                f"{count} refused in {s.window_minutes} min, {count / max(level, 1.0):.0f}x its "
                f"level of the last {s.baseline_hours} h ({level:.1f} per {s.window_minutes} min)"
                " - an attack is being refused",
                now,
                f"/dashboard/events?action=blocked&{filter_key}={value}",
                {"refused": count, "baseline": round(level, 2), "what": what},
            )
            self._alerts.fire(alert)
            fired.append(alert)
        return fired
