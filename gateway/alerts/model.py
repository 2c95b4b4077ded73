"""An alert: one incident (a budget passing 80%, a circuit opening, ...) and its state.

An incident has a stable `key` ("circuit:twilio", "budget:kg-daily:80"): raising the same key again
while it is active is the same incident, not a new alert, on every replica.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class Severity(enum.IntEnum):
    """Ordered, so a notifier's `min_severity` is a comparison."""

    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Severity:
        return cls[value.upper()]


class Status(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """What happened, how much, since when, and where on the dashboard to look."""

    key: str  # the incident: the same key while it lasts, on every replica
    severity: Severity
    title: str  # what: "Daily budget for KG at 80%"
    summary: str  # how much: "$40.12 of $50.00 spent today (Asia/Bishkek)"
    since: float  # unix seconds the incident started
    link_path: str = "/dashboard"  # the page that shows it, joined to the dashboard's URL
    values: dict[str, str | int | float] = field(default_factory=dict)
    status: Status = Status.FIRING

    def resolved(self, at: float) -> Alert:
        """The message that closes this incident."""
        values = {**self.values, "resolved_at": iso(at)}
        return Alert(
            self.key,
            self.severity,
            self.title,
            f"resolved after {_duration(at - self.since)}",
            self.since,
            self.link_path,
            values,
            Status.RESOLVED,
        )


class AlertSink(Protocol):
    """What a stage reports to (the Alerter): never blocks, never raises."""

    def fire(self, alert: Alert) -> None: ...

    def clear(self, key: str) -> None: ...


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    minutes = max(0, int(seconds)) // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
