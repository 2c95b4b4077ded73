"""Finding events for the dashboard: filters, pages of the stream newest first, one event.

Every read is bounded (pages of events, a scan limit for filters). The signal filters are the
ones the registry declares `Shown(filter=True)`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis

from gateway.errors import InputError
from gateway.events import STREAM_KEY, DecisionEvent
from gateway.providers.status import delivery_key
from gateway.signals.registry import Shown
from gateway.signals.registry import shown as shown_signals

SCAN_CHUNK = 500
SCAN_LIMIT = 20_000
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# The signals the events pages show, in registry order: (event field, how it is shown).
SIGNAL_COLUMNS: tuple[tuple[str, Shown], ...] = tuple(
    (where.field, how) for where, how in shown_signals()
)
# Event fields the events page filters on by exact value, with their labels.
SIGNAL_FILTERS: dict[str, str] = {
    where.field: how.heading for where, how in shown_signals() if how.filter
}


class FilterError(InputError):
    """A filter value that cannot be used (bad CIDR, bad time)."""


@dataclass
class EventFilter:
    action: str = ""
    rule: str = ""
    prefix: str = ""
    ip: str = ""
    since: str = ""  # "YYYY-MM-DDTHH:MM" UTC (a datetime-local input) or unix seconds
    until: str = ""
    request_id: str = ""  # the request id of a log line (X-Request-Id)
    signals: dict[str, str] = field(default_factory=dict)  # event field -> value (SIGNAL_FILTERS)
    _net: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    @staticmethod
    def from_query(query: Mapping[str, str]) -> EventFilter:
        def get(k: str) -> str:
            return str(query.get(k, "")).strip()[:100]

        f = EventFilter(
            action=get("action"),
            rule=get("rule"),
            prefix=get("prefix").lstrip("+").replace(" ", ""),
            ip=get("ip"),
            since=get("since"),
            until=get("until"),
            request_id=get("request_id"),
            signals={name: get(name) for name in SIGNAL_FILTERS if get(name)},
        )
        if f.ip:
            try:
                f._net = ipaddress.ip_network(f.ip, strict=False)
            except ValueError:
                raise FilterError(f"ip: {f.ip!r} is not an IP address or CIDR") from None
        if f.prefix and not f.prefix.isdigit():
            raise FilterError(f"prefix: {f.prefix!r} is not digits")
        return f

    def params(self) -> dict[str, str]:
        fixed = (
            ("action", self.action),
            ("rule", self.rule),
            ("prefix", self.prefix),
            ("ip", self.ip),
            ("since", self.since),
            ("until", self.until),
            ("request_id", self.request_id),
        )
        return {k: v for k, v in (*fixed, *self.signals.items()) if v}

    def bounds_ms(self) -> tuple[str, str]:
        """XREVRANGE bounds (max, min) for the time range."""
        return (_ms(self.until, "+"), _ms(self.since, "-"))

    def matches(self, e: DecisionEvent) -> bool:
        if self.request_id and e.id != self.request_id:
            return False
        if self.action and e.action != self.action:
            return False
        if self.rule and e.rule != self.rule:
            return False
        for name, wanted in self.signals.items():
            if str(e.get(name) or "").casefold() != wanted.casefold():
                return False
        if self.prefix:
            p = e.prefix
            # Events keep `prefix_digits` digits: a longer filter matches on those it can compare.
            if not (
                p.startswith(self.prefix)
                or (len(self.prefix) > len(p) and self.prefix.startswith(p) and p)
            ):
                return False
        if self._net is not None:
            try:
                if ipaddress.ip_address(str(e.get("ip") or "")) not in self._net:
                    return False
            except ValueError:
                return False
        return True


def _ms(text: str, default: str) -> str:
    if not text:
        return default
    try:
        if text.replace(".", "", 1).isdigit():
            return str(int(float(text) * 1000))
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return str(int(dt.timestamp() * 1000))
    except ValueError:
        raise FilterError(f"time: {text!r} is not a date and time (2026-01-31T13:45)") from None


@dataclass
class EventPage:
    events: list[DecisionEvent]
    next_before: str | None  # stream id to continue from (older events), None at the end
    scanned: int


async def find_events(
    redis: Redis,
    flt: EventFilter,
    *,
    before: str = "",
    limit: int = 50,
    scan_limit: int = SCAN_LIMIT,
) -> EventPage:
    """Newest first, matching the filter; `before` is the stream id to continue from."""
    high, low = flt.bounds_ms()
    if before:
        if not _STREAM_ID.match(before):
            raise FilterError(f"before: {before!r} is not an event id")
        high = f"({before}"
    found: list[DecisionEvent] = []
    scanned = 0
    last_id: str | None = None
    exhausted = False
    while len(found) < limit and scanned < scan_limit:
        rows = await redis.xrevrange(STREAM_KEY, max=high, min=low, count=SCAN_CHUNK)
        if not rows:
            exhausted = True
            break
        for sid, fields in rows:
            scanned += 1
            event = decode_event(sid, fields)
            last_id = event.sid
            if flt.matches(event):
                found.append(event)
                if len(found) >= limit:
                    break
        if len(rows) < SCAN_CHUNK and len(found) < limit:
            exhausted = True
            break
        high = f"({last_id}"
    await _with_delivery(redis, found)
    return EventPage(found, None if exhausted else last_id, scanned)


async def get_event(redis: Redis, sid: str) -> DecisionEvent | None:
    """One event by its stream id; None when it is gone or the id is not a stream id."""
    if not _STREAM_ID.match(sid):
        return None
    rows = await redis.xrange(STREAM_KEY, min=sid, max=sid, count=1)
    if not rows:
        return None
    event = decode_event(*rows[0])
    await _with_delivery(redis, [event])
    return event


async def _with_delivery(redis: Redis, events: list[DecisionEvent]) -> None:
    """Attach the provider's delivery status (filed against our message id) to sent events."""
    sent = [e for e in events if e.provider]
    if not sent:
        return
    pipe = redis.pipeline(transaction=False)
    for e in sent:
        pipe.hgetall(delivery_key(e.id))
    raw: list[dict[bytes | str, bytes | str]] = await pipe.execute()
    for e, r in zip(sent, raw, strict=True):
        if r:
            e.delivery = {_text(k): _text(v) for k, v in r.items()}


def decode_event(
    stream_id: bytes | str | None, fields: Mapping[bytes | str, bytes | str] | None
) -> DecisionEvent:
    """One stream entry back into an event, with its stream id as `sid`."""
    sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id or ""
    raw = (fields or {}).get(b"e") or (fields or {}).get("e") or "{}"
    return DecisionEvent.from_json(raw, sid)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
