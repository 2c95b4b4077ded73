"""What the Conversion page reads: sent vs completed over time, conversion by country and by range
against the destination's 14-day baseline, the automatic blocks in force, and what the outcome rules
and the auto-block entries did or would have done in shadow. Typed; one pipeline per read.

The feedback counters are keyed hashes (gateway/feedback/keys.py): a destination is read by its
value, never listed. Countries are all ISO codes (one HMGET each); ranges are the ones worth a look:
those of the automatic blocks (in force or noted in shadow), the ranges of the busiest prefixes of
the event log (`events.prefix_digits`, extended by one digit where the prefix is one short), and the
ones the operator asks for.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import phonenumbers
from redis.asyncio import Redis

from gateway.adaptive.figures import FeedbackFigures, Figures
from gateway.adaptive.watcher import AUTHOR
from gateway.countries import ISO_COUNTRIES
from gateway.dashboard.queries import read_buckets, rule_counts
from gateway.errors import InputError
from gateway.feedback.keys import RESOLUTIONS, WINDOWS, FeedbackKeys, bucket_range
from gateway.overrides import Override, Overrides
from gateway.policy.ruleset import Rule, RuleSet

# Feedback window -> the event aggregates' range its shadow counts are read over (14d: a week,
# the longest the aggregates keep by hour).
EVENT_RANGES = {"1h": "hour", "24h": "day", "14d": "week"}
TOP_PREFIXES = 50  # busiest sent prefixes of the event log turned into ranges
TOP_ROWS = 30  # rows per table
LOOKUPS_MAX = 5  # ranges asked for in one request
DIGITS = {"r4": 4, "r6": 6}


class ParamError(InputError):
    """A parameter of the Conversion page cannot be used: which one and why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Series:
    """Codes sent and completed per bucket of a window, over every destination country."""

    window: str
    bucket_s: int
    starts: list[int]
    sent: list[int]
    completed: list[int]


@dataclass(frozen=True, slots=True)
class AutoBlock:
    """An automatic block in force: its override, the entry that set it, its figures now."""

    override: Override
    rule: str  # the auto_blocks entry id (the reason's first word)
    figures: Figures | None  # the destination over the entry's window (1h when unknown)

    @property
    def extended_by(self) -> str | None:
        """Who set it again with a later expiry (None: as the watcher set it)."""
        return None if self.override.author == AUTHOR else self.override.author


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """A rule reading completion feedback, with what it did (enforce) or would have done."""

    id: str
    description: str
    mode: str
    action: str
    hits: int  # enforced: requests it decided; shadow: requests it would have decided


@dataclass
class Conversion:
    window: str
    series: Series
    countries: list[Figures]
    ranges: list[Figures]
    blocks: list[AutoBlock]
    rules: list[OutcomeRule]
    # Automatic blocks set or, in shadow, only noted ("would auto-block") within the window.
    auto_log: list[dict[str, object]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "window": self.window,
            "series": {
                "bucket_s": self.series.bucket_s,
                "starts": self.series.starts,
                "sent": self.series.sent,
                "completed": self.series.completed,
            },
            "countries": [figures_json(f) for f in self.countries],
            "ranges": [figures_json(f) for f in self.ranges],
            "auto_blocks": [
                {
                    **b.override.public(),
                    "rule": b.rule,
                    "extended_by": b.extended_by,
                    "figures": figures_json(b.figures) if b.figures else None,
                }
                for b in self.blocks
            ],
            "outcome_rules": [
                {"id": r.id, "mode": r.mode, "action": r.action, "hits": r.hits} for r in self.rules
            ],
            "auto_block_log": self.auto_log,
        }


def figures_json(f: Figures) -> dict[str, object]:
    conv, ratio = f.conversion, f.vs_baseline
    return {
        "dimension": f.dimension,
        "destination": f.shown,
        "window": f.window,
        "sent": f.sent,
        "completed": f.completed,
        "conversion": None if conv is None else round(conv, 4),
        "baseline": None if f.baseline is None else round(f.baseline, 4),
        "vs_baseline": None if ratio is None else round(ratio, 4),
    }


# -- destinations ---------------------------------------------------------------------------------


def _calling_code(digits: str) -> int | None:
    """The calling code a run of E.164 digits starts with (calling codes are prefix-free)."""
    for n in (1, 2, 3):
        code = int(digits[:n]) if digits[:n].isdigit() else 0
        if code and phonenumbers.region_code_for_country_code(code) != "ZZ":
            return code
    return None


@functools.lru_cache(maxsize=4096)
def range_country(cc: int, national: str) -> str | None:
    """The country of a range: the calling code's one country or, where several share it (+1,
    +7, +44 ...), the country of a valid number found in the range, else the code's main one."""
    regions = [r for r in phonenumbers.region_codes_for_country_code(cc) if r not in ("ZZ", "001")]
    if len(regions) > 1:
        for tail in ("0000000000", "1234567890"):
            for length in range(max(len(national), 7), 11):
                try:
                    number = phonenumbers.parse(f"+{cc}{(national + tail)[:length]}")
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    return str(phonenumbers.region_code_for_number(number))
    return str(regions[0]) if regions else None


def ranges_of(digits: str) -> list[tuple[str, str, str]]:
    """(dimension, value, country) of the ranges a prefix of E.164 digits names or, one digit
    short, the ten it covers: "9989141" -> r4 998:9141; "998914" -> r4 998:9140 ... 998:9149."""
    cc = _calling_code(digits)
    if cc is None:
        return []
    national = digits[len(str(cc)) :]
    out: list[tuple[str, str, str]] = []
    for dim, n in DIGITS.items():
        if len(national) >= n:
            heads = [national[:n]]
        elif len(national) == n - 1:
            heads = [national + str(d) for d in range(10)]
        else:
            continue
        for head in heads:
            country = range_country(cc, head)
            if country:
                out.append((dim, f"{cc}:{head}", country))
    return out


def lookup(text: str) -> tuple[str, str, str]:
    """The range an operator typed ("+998 9141", "998 914123"): (dimension, value, country)."""
    digits = text.replace(" ", "").replace("-", "").lstrip("+")
    cc = _calling_code(digits) if digits.isdigit() else None
    national = digits[len(str(cc)) :] if cc else ""
    dim = next((d for d, n in DIGITS.items() if len(national) == n), None)
    country = range_country(cc, national) if cc and dim else None
    if cc is None or dim is None or country is None:
        raise ParamError(
            "range", f"{text[:40]!r} is not a calling code and 4 or 6 national digits (+998 9141)"
        )
    return dim, f"{cc}:{national}", country


def window_of(text: str) -> str:
    if text not in WINDOWS:
        raise ParamError("window", f"{text[:20]!r} is not one of {', '.join(WINDOWS)}")
    return text


def lookups(raw: str) -> list[tuple[str, str, str]]:
    """The ranges of the page's `range` parameter (comma-separated, at most LOOKUPS_MAX)."""
    parts = [p for p in (p.strip() for p in raw.split(",")) if p]
    return [lookup(p) for p in parts[:LOOKUPS_MAX]]


# -- reading --------------------------------------------------------------------------------------


class ConversionQuery:
    """The Conversion page's reads over the feedback counters, the overrides and the events."""

    def __init__(self, redis: Redis, keys: FeedbackKeys, overrides: Overrides) -> None:
        self.redis = redis
        self.keys = keys
        self.overrides = overrides
        self.figures = FeedbackFigures(redis, keys)

    async def countries(self, window: str, now: float) -> tuple[Series, list[Figures]]:
        """The series summed over every country, and each country sent to, busiest first."""
        res, first, last = bucket_range(window, now)
        buckets = range(first, last + 1)
        fields = [f"{m}{b}" for m in ("s", "c") for b in buckets]
        _, b_first, b_last = bucket_range("14d", now)
        base_fields = [f"{m}{b}" for m in ("s", "c") for b in range(b_first, b_last + 1)]
        codes = sorted(ISO_COUNTRIES)
        pipe = self.redis.pipeline(transaction=False)
        for code in codes:
            pipe.hmget(self.keys.counter(res, "cc", code), fields)
            pipe.hmget(self.keys.counter("d", "cc", code), base_fields)
        replies: list[list[bytes | None]] = await pipe.execute()
        n = len(buckets)
        sent, completed = [0] * n, [0] * n
        rows: list[Figures] = []
        for i, code in enumerate(codes):
            counts = [int(v) if v is not None else 0 for v in replies[2 * i]]
            if not any(counts[:n]):
                continue
            for j in range(n):
                sent[j] += counts[j]
                completed[j] += counts[n + j]
            base = [int(v) if v is not None else 0 for v in replies[2 * i + 1]]
            half = len(base) // 2
            b_sent = sum(base[:half])
            baseline = sum(base[half:]) / b_sent if b_sent else None
            rows.append(Figures("cc", code, window, sum(counts[:n]), sum(counts[n:]), baseline))
        step = RESOLUTIONS[res][0]
        series = Series(window, step, [b * step for b in buckets], sent, completed)
        rows.sort(key=lambda f: (-f.sent, f.value))
        return series, rows

    async def ranges(
        self, window: str, now: float, wanted: Iterable[tuple[str, str, str]]
    ) -> list[Figures]:
        """Figures of the ranges `wanted` (always shown) and of the busiest event-log prefixes
        (shown when sent to in the window), busiest first."""
        asked = list(dict.fromkeys(wanted))
        found: list[tuple[str, str, str]] = []
        for prefix in await self.busiest_prefixes(window, now):
            found += ranges_of(prefix)
        shown = {(d, v) for d, v, _ in asked}
        out: list[Figures] = []
        for dim in DIGITS:
            pairs = [(v, c) for d, v, c in dict.fromkeys(asked + found) if d == dim]
            for f in await self.figures.figures(dim, pairs, window, now):
                if f.sent or (dim, f.value) in shown:
                    out.append(f)
        # The ranges asked for first (always shown), then the busiest.
        out.sort(key=lambda f: ((f.dimension, f.value) not in shown, -f.sent, f.dimension, f.value))
        return out[: max(TOP_ROWS, len(shown))]

    async def busiest_prefixes(self, window: str, now: float) -> list[str]:
        """The prefixes (events.prefix_digits digits) most codes were sent to in the window."""
        _, _, _, buckets = await read_buckets(self.redis, EVENT_RANGES[window], now)
        sent: Counter[str] = Counter()
        for bucket in buckets:
            for fld, n in bucket.items():
                if fld.startswith("p|sent|"):
                    sent[fld[len("p|sent|") :]] += n
        return [p for p, _ in sent.most_common(TOP_PREFIXES)]

    async def blocks(self, rules: RuleSet | None, now: float) -> list[AutoBlock]:
        """The automatic blocks in force, with their destination's figures now."""
        entries = {e.id: e for e in (rules.auto_blocks if rules else ())}
        out: list[AutoBlock] = []
        for o in self.overrides.active():
            rule = o.reason.split(":", 1)[0]
            if o.action != "block" or (o.author != AUTHOR and rule not in entries):
                continue
            entry = entries.get(rule)
            window = entry.window if entry else "1h"
            figures = await self._figures_of(o, window, now)
            out.append(AutoBlock(o, rule, figures))
        return out

    async def _figures_of(self, o: Override, window: str, now: float) -> Figures | None:
        if o.kind == "country":
            found = await self.figures.figures("cc", [(o.value, o.value)], window, now)
        else:
            dests = [(d, v, c) for d, v, c in ranges_of(o.value) if v.replace(":", "") == o.value]
            if not dests:
                return None
            dim, value, country = dests[0]
            found = await self.figures.figures(dim, [(value, country)], window, now)
        return found[0] if found else None

    async def outcome_rules(
        self, rules: RuleSet | None, window: str, now: float
    ) -> list[OutcomeRule]:
        """The rules reading completion feedback, with their hits (shadow: would-have hits)."""
        if rules is None:
            return []
        hits, shadow = await rule_counts(self.redis, EVENT_RANGES[window], now)
        out: list[OutcomeRule] = []
        for r in rules.rules:
            if not reads_outcomes(r):
                continue
            if r.shadow:
                n = sum(c for k, c in shadow.items() if k.split("|", 1)[0] == r.id)
            else:
                n = hits.get(r.id, 0)
            out.append(OutcomeRule(r.id, r.description, r.mode, r.action, n))
        return out

    async def auto_log(self, window: str, now: float, limit: int = 500) -> list[dict[str, object]]:
        """The watcher's audit entries (blocks set, shadow notes) in the window, newest first."""
        since = now - WINDOWS_S[window]
        out = []
        for entry in await self.overrides.audit(limit):
            when = entry.get("time")
            if entry.get("author") == AUTHOR and isinstance(when, int | float) and when >= since:
                out.append(entry)
        return out[:TOP_ROWS]

    async def read(
        self,
        window: str,
        now: float,
        rules: RuleSet | None,
        wanted: Sequence[tuple[str, str, str]] = (),
    ) -> Conversion:
        series, countries = await self.countries(window, now)
        return Conversion(
            window=window,
            series=series,
            countries=countries[:TOP_ROWS],
            ranges=await self.ranges(window, now, wanted),
            blocks=await self.blocks(rules, now),
            rules=await self.outcome_rules(rules, window, now),
            auto_log=await self.auto_log(window, now),
        )


WINDOWS_S = {name: RESOLUTIONS[res][0] * n for name, (res, n) in WINDOWS.items()}


def reads_outcomes(rule: Rule) -> bool:
    """A rule deciding on completion feedback: outcome signals in its conditions or limits
    learned from verified history."""
    learned = rule.velocity.learned if rule.velocity is not None else ()
    return bool(rule.reads) or any(w is not None for w in learned)
