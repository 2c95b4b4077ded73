"""What the dashboard reads: recent events from the stream, counts from the aggregate hashes.

Every read is bounded (pages of events, a scan limit for filters, one pipeline per overview).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from redis.asyncio import Redis

from gateway.events import (
    ASN_NAMES_KEY,
    HOUR_PREFIX,
    MINUTE_PREFIX,
    STREAM_KEY,
    decode_event,
)
from gateway.providers.status import delivery_key
from gateway.settings import PricesSettings

Range = Literal["hour", "day", "week"]
RANGES: dict[str, tuple[str, int, int]] = {
    # name: (bucket key prefix, bucket seconds, bucket count)
    "hour": (MINUTE_PREFIX, 60, 60),
    "day": (HOUR_PREFIX, 3600, 24),
    "week": (HOUR_PREFIX, 3600, 168),
}
SERIES = ("sent", "blocked", "dropped", "failed")
# Traffic the gateway stopped: what the top lists and the money saved count.
STOPPED = ("blocked", "dropped")
SCAN_CHUNK = 500
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
SCAN_LIMIT = 20_000


@dataclass
class Overview:
    range: str
    bucket_s: int
    starts: list[int]  # unix seconds of each bucket
    series: dict[str, list[int]]  # action -> count per bucket
    totals: dict[str, int]
    by_rule: list[tuple[str, int]]
    countries: list[tuple[str, int]]
    prefixes: list[tuple[str, int]]
    nets: list[tuple[str, int]]
    asns: list[tuple[str, str, int]]  # asn, org, count
    shadow: list[tuple[str, str, int]]  # rule, would-be action, count
    saved: float
    currency: str
    saved_by_country: list[tuple[str, int, float]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "range": self.range,
            "bucket_s": self.bucket_s,
            "starts": self.starts,
            "series": self.series,
            "totals": self.totals,
            "blocked_by_rule": [{"rule": r, "count": n} for r, n in self.by_rule],
            "top_countries": [{"country": c, "count": n} for c, n in self.countries],
            "top_prefixes": [{"prefix": p, "count": n} for p, n in self.prefixes],
            "top_networks": [{"network": p, "count": n} for p, n in self.nets],
            "top_asns": [{"asn": a, "org": o, "count": n} for a, o, n in self.asns],
            "shadow": [{"rule": r, "action": a, "count": n} for r, a, n in self.shadow],
            "money_saved": {
                "amount": round(self.saved, 2),
                "currency": self.currency,
                "by_country": [
                    {"country": c, "messages": m, "amount": round(v, 2)}
                    for c, m, v in self.saved_by_country
                ],
            },
        }


EVENT_FIELDS = (
    "time",
    "id",
    "action",
    "http_status",
    "to",
    "phone_hash",
    "prefix",
    "ip",
    "latency_ms",
    "provider",
    "provider_message_id",
    "error",
    "country",
    "number_type",
    "net",
    "ip_country",
    "asn",
    "as_org",
    "ua",
    "automation",
    "decision",
    "rule",
    "reason",
    "tags",
    "shadow",
    "trace",
    "trace_cut",
    "delivery",
)
AUDIT_FIELDS = (
    "time",
    "change",
    "author",
    "reason",
    "id",
    "kind",
    "value",
    "action",
    "target",
    "expires_at",
)


def complete(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Every expected key present (None when absent), so templates can test any of them."""
    for name in names:
        row.setdefault(name, None)
    return row


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def read_buckets(
    redis: Redis, range_: str, now: float
) -> tuple[str, int, list[int], list[dict[str, int]]]:
    """The aggregate hashes of a range, oldest first, as {field: count}."""
    prefix, size, count = RANGES.get(range_, RANGES["hour"])
    last = int(now // size)
    numbers = list(range(last - count + 1, last + 1))
    pipe = redis.pipeline(transaction=False)
    for n in numbers:
        pipe.hgetall(f"{prefix}{n}")
    raw: list[Any] = await pipe.execute()
    buckets = [{_s(k): int(v) for k, v in (r or {}).items()} for r in raw]
    return range_ if range_ in RANGES else "hour", size, [n * size for n in numbers], buckets


async def overview(
    redis: Redis, range_: str, now: float, prices: PricesSettings, top: int = 10
) -> Overview:
    name, size, starts, buckets = await read_buckets(redis, range_, now)
    series = {a: [b.get(f"a|{a}", 0) for b in buckets] for a in SERIES}
    totals: Counter[str] = Counter()
    dims: dict[str, Counter[str]] = {d: Counter() for d in ("r", "c", "p", "n", "asn")}
    shadow: Counter[tuple[str, str]] = Counter()
    for bucket in buckets:
        for fld, n in bucket.items():
            parts = fld.split("|", 2)
            if parts[0] == "a":
                totals[parts[1]] += n
            elif parts[0] == "s" and len(parts) == 3:
                shadow[(parts[2], parts[1])] += n
            elif len(parts) == 3 and parts[0] in dims and parts[1] in STOPPED:
                dims[parts[0]][parts[2]] += n
    names: dict[str, str] = {}
    asn_top = dims["asn"].most_common(top)
    if asn_top:
        orgs: list[Any] = await redis.hmget(ASN_NAMES_KEY, [a for a, _ in asn_top])
        names = {a: _s(o) for (a, _), o in zip(asn_top, orgs, strict=True) if o}
    saved_by_country = []
    for country, n in dims["c"].most_common():
        price = prices.per_country.get(country, prices.default)
        saved_by_country.append((country, n, n * price))
    counted = sum(n for _, n, _ in saved_by_country)
    unknown = sum(totals[a] for a in STOPPED) - counted
    saved = sum(v for _, _, v in saved_by_country) + max(unknown, 0) * prices.default
    return Overview(
        range=name,
        bucket_s=size,
        starts=starts,
        series=series,
        totals={a: totals.get(a, 0) for a in (*SERIES, "error")},
        by_rule=dims["r"].most_common(top),
        countries=dims["c"].most_common(top),
        prefixes=dims["p"].most_common(top),
        nets=dims["n"].most_common(top),
        asns=[(a, names.get(a, ""), n) for a, n in asn_top],
        shadow=[(r, a, n) for (r, a), n in shadow.most_common()],
        saved=saved,
        currency=prices.currency,
        saved_by_country=saved_by_country[:top],
    )


async def rule_counts(redis: Redis, range_: str, now: float) -> tuple[Counter[str], Counter[str]]:
    """Hits per rule (any action) and shadow "would have" hits per rule over a range."""
    _, _, _, buckets = await read_buckets(redis, range_, now)
    hits: Counter[str] = Counter()
    shadow: Counter[str] = Counter()
    for bucket in buckets:
        for fld, n in bucket.items():
            parts = fld.split("|", 2)
            if len(parts) != 3:
                continue
            if parts[0] == "r":
                hits[parts[2]] += n
            elif parts[0] == "s":
                shadow[f"{parts[2]}|{parts[1]}"] += n
    return hits, shadow


# -- events ---------------------------------------------------------------------------------------


class FilterError(ValueError):
    """A filter value that cannot be used (bad CIDR, bad time)."""


@dataclass
class EventFilter:
    action: str = ""
    rule: str = ""
    country: str = ""
    prefix: str = ""
    ip: str = ""
    since: str = ""  # "YYYY-MM-DDTHH:MM" UTC (a datetime-local input) or unix seconds
    until: str = ""
    request_id: str = ""  # the request id of a log line (X-Request-Id)
    _net: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    @staticmethod
    def from_query(query: Any) -> EventFilter:
        def get(k: str) -> str:
            return str(query.get(k, "")).strip()[:100]

        f = EventFilter(
            action=get("action"),
            rule=get("rule"),
            country=get("country"),
            prefix=get("prefix"),
            ip=get("ip"),
            since=get("since"),
            until=get("until"),
            request_id=get("request_id"),
        )
        f.country = f.country.upper()
        f.prefix = f.prefix.lstrip("+").replace(" ", "")
        if f.ip:
            try:
                f._net = ipaddress.ip_network(f.ip, strict=False)
            except ValueError:
                raise FilterError(f"ip: {f.ip!r} is not an IP address or CIDR") from None
        if f.prefix and not f.prefix.isdigit():
            raise FilterError(f"prefix: {f.prefix!r} is not digits")
        return f

    def params(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("action", self.action),
                ("rule", self.rule),
                ("country", self.country),
                ("prefix", self.prefix),
                ("ip", self.ip),
                ("since", self.since),
                ("until", self.until),
                ("request_id", self.request_id),
            )
            if v
        }

    def bounds_ms(self) -> tuple[str, str]:
        """XREVRANGE bounds (max, min) for the time range."""
        return (_ms(self.until, "+"), _ms(self.since, "-"))

    def matches(self, e: dict[str, Any]) -> bool:
        if self.request_id and e.get("id") != self.request_id:
            return False
        if self.action and e.get("action") != self.action:
            return False
        if self.rule and e.get("rule") != self.rule:
            return False
        if self.country and e.get("country") != self.country:
            return False
        if self.prefix:
            p = str(e.get("prefix") or "")
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
    events: list[dict[str, Any]]
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
    found: list[dict[str, Any]] = []
    scanned = 0
    last_id: str | None = None
    exhausted = False
    while len(found) < limit and scanned < scan_limit:
        rows: Any = await redis.xrevrange(STREAM_KEY, max=high, min=low, count=SCAN_CHUNK)
        if not rows:
            exhausted = True
            break
        for sid, fields in rows:
            scanned += 1
            event = decode_event(sid, fields)
            last_id = event["sid"]
            if flt.matches(event):
                found.append(event)
                if len(found) >= limit:
                    break
        if len(rows) < SCAN_CHUNK and len(found) < limit:
            exhausted = True
            break
        high = f"({last_id}"
    await _with_delivery(redis, found)
    for e in found:
        complete(e, EVENT_FIELDS)
    return EventPage(found, None if exhausted else last_id, scanned)


async def get_event(redis: Redis, sid: str) -> dict[str, Any] | None:
    """One event by its stream id; None when it is gone or the id is not a stream id."""
    if not _STREAM_ID.match(sid):
        return None
    rows: Any = await redis.xrange(STREAM_KEY, min=sid, max=sid, count=1)
    if not rows:
        return None
    event = decode_event(*rows[0])
    await _with_delivery(redis, [event])
    return complete(event, EVENT_FIELDS)


async def _with_delivery(redis: Redis, events: list[dict[str, Any]]) -> None:
    """Attach the provider's delivery status (filed against our message id) to sent events."""
    sent = [e for e in events if e.get("provider")]
    if not sent:
        return
    pipe = redis.pipeline(transaction=False)
    for e in sent:
        pipe.hgetall(delivery_key(str(e["id"])))
    raw: list[Any] = await pipe.execute()
    for e, r in zip(sent, raw, strict=True):
        if r:
            e["delivery"] = {_s(k): _s(v) for k, v in r.items()}


CSV_COLUMNS = (
    "time",
    "id",
    "action",
    "decision",
    "rule",
    "reason",
    "to",
    "phone_hash",
    "country",
    "number_type",
    "prefix",
    "ip",
    "net",
    "ip_country",
    "asn",
    "as_org",
    "ua",
    "automation",
    "provider",
    "provider_outcome",
    "delivery",
    "http_status",
    "latency_ms",
    "tags",
    "shadow",
)


def csv_row(e: dict[str, Any]) -> list[str]:
    """One event as CSV cells: phone-safe by construction (events hold no full number)."""
    values: dict[str, Any] = dict(e)
    values["time"] = iso(e.get("time"))
    values["provider_outcome"] = e.get("error") or (e.get("provider_message_id") or "")
    values["delivery"] = (e.get("delivery") or {}).get("status", "")
    values["tags"] = " ".join(e.get("tags") or [])
    values["shadow"] = " ".join(f"{h['rule']}:{h['action']}" for h in e.get("shadow") or [])
    return [_cell(values.get(c)) for c in CSV_COLUMNS]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a leading = + - @ is made literal.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def iso(ts: Any) -> str:
    if ts is None or ts == "":
        return ""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
