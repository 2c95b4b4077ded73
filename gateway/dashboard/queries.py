"""What the dashboard reads: counts from the aggregate hashes (overview, rule hits).

One pipeline per overview. Events themselves are found by `eventsearch` and exported by `export`;
their names stay importable from here for the views.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio import Redis

from gateway.dashboard.eventsearch import (
    SIGNAL_COLUMNS,
    SIGNAL_FILTERS,
    EventFilter,
    EventPage,
    FilterError,
    find_events,
    get_event,
)
from gateway.dashboard.export import CSV_COLUMNS, csv_row, iso
from gateway.events import ASN_NAMES_KEY, DIMENSIONS, HOUR_PREFIX, MINUTE_PREFIX
from gateway.settings import PricesSettings

__all__ = [
    "CSV_COLUMNS",
    "RANGES",
    "SERIES",
    "SIGNAL_COLUMNS",
    "SIGNAL_FILTERS",
    "EventFilter",
    "EventPage",
    "FilterError",
    "Overview",
    "csv_row",
    "find_events",
    "get_event",
    "iso",
    "overview",
    "rule_counts",
]

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

    def as_json(self) -> dict[str, object]:
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
    raw: list[dict[bytes | str, bytes | str] | None] = await pipe.execute()
    buckets = [{_s(k): int(v) for k, v in (r or {}).items()} for r in raw]
    return range_ if range_ in RANGES else "hour", size, [n * size for n in numbers], buckets


async def overview(
    redis: Redis, range_: str, now: float, prices: PricesSettings, top: int = 10
) -> Overview:
    name, size, starts, buckets = await read_buckets(redis, range_, now)
    series = {a: [b.get(f"a|{a}", 0) for b in buckets] for a in SERIES}
    totals: Counter[str] = Counter()
    dims: dict[str, Counter[str]] = {d: Counter() for d in DIMENSIONS}
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
        orgs: list[bytes | str | None] = await redis.hmget(ASN_NAMES_KEY, [a for a, _ in asn_top])
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
