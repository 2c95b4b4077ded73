"""The CSV export of events: phone-safe by construction (events hold no full number)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.events import DecisionEvent
from gateway.signals.registry import stored as stored_signals

# The event's own fields, then every signal it stores (in registry order), then the outcome.
CSV_COLUMNS = (
    "time",
    "id",
    "action",
    "decision",
    "rule",
    "reason",
    "to",
    "phone_hash",
    "prefix",
    *(how.field for _, how in stored_signals()),
    "provider",
    "provider_outcome",
    "delivery",
    "http_status",
    "latency_ms",
    "tags",
    "shadow",
)


def csv_row(e: DecisionEvent) -> list[str]:
    """One event as CSV cells."""
    values: dict[str, object] = e.as_dict()
    values["time"] = iso(e.time)
    values["provider_outcome"] = e.error or e.provider_message_id or ""
    values["delivery"] = (e.delivery or {}).get("status", "")
    values["tags"] = " ".join(e.tags)
    values["shadow"] = " ".join(f"{h.rule}:{h.action}" for h in e.shadow)
    return [_cell(values.get(c)) for c in CSV_COLUMNS]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a leading = + - @ is made literal.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def iso(ts: float | str | None) -> str:
    if ts is None or ts == "":
        return ""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
