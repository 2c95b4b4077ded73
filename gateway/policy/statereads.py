"""The state a rule set reads in its decision script: which feedback values, compiled once per set.

Only the outcome signals the loaded rules name (and the bases of their learned limits) are read, so
a rule set without them costs Redis nothing more. The reads program (`gateway.velocity.state`) is
fixed per rule set; per request only its keys change (the recipient's markers, and the feedback
counters of its destination and source, in the layout of `gateway.feedback.keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gateway.feedback.keys import PREFIX, RESOLUTIONS, WINDOWS, FeedbackKeys
from gateway.signals import Signals
from gateway.signals.outcomes import DAILY_MAX, OUTCOMES, SUBJECTS, VERIFIED
from gateway.signals.registry import national_prefix_getter
from gateway.velocity import StateReads, StateValue

NONE_KEY = PREFIX + "none"  # read when the request has no value for a dimension: never written
DAILY = "d"
DAYS = 14


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


_range4 = national_prefix_getter(4)
_range6 = national_prefix_getter(6)
# feedback dimension -> its value for one request (as the feedback store wrote it at send time)
DIMENSION_VALUES: dict[str, Callable[[Signals], str | None]] = {
    "cc": lambda s: s.phone_country,
    "r4": lambda s: _text(_range4(s)),
    "r6": lambda s: _text(_range6(s)),
    "ip": lambda s: s.ip,
    "net": lambda s: s.ip_net,
    "asn": lambda s: _text(s.asn),
    "ipcc": lambda s: s.ip_country,
}


@dataclass(frozen=True)
class Learned:
    """A limit learned from verified history: floor + ceil(factor x the base signal)."""

    factor: float
    floor: int
    base: str  # e.g. phone.country.verified_daily_max


@dataclass
class StatePlan:
    """The reads program of one rule set, and how each named value maps to its position."""

    ops: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # per value; "" for a learned limit
    slots: list[tuple[str, str]] = field(default_factory=list)  # read keys: (kind, resolution)
    index: dict[str, int] = field(default_factory=dict)  # name -> 1-based value position
    learned: dict[Learned, int] = field(default_factory=dict)
    program: str = ""

    @staticmethod
    def build(names: Iterable[str], learned: Iterable[Learned]) -> StatePlan | None:
        plan = StatePlan()
        for name in names:
            plan.value(name)
        for limit in learned:
            plan.limit(limit)
        if not plan.ops:
            return None
        plan.program = ";".join(plan.ops)
        return plan

    # -- building -----------------------------------------------------------------------------

    def _slot(self, kind: str, res: str = "") -> int:
        if (kind, res) not in self.slots:
            self.slots.append((kind, res))
        return self.slots.index((kind, res)) + 1

    def _push(self, op: str, name: str) -> int:
        self.ops.append(op)
        self.names.append(name)
        return len(self.ops)

    def value(self, name: str) -> int:
        """The position of a named outcome, adding its reads (and what it derives from)."""
        if name in self.index:
            return self.index[name]
        o = OUTCOMES[name]
        if name == VERIFIED:
            op = f"e,{self._slot('verified')}"
        elif o.measure == "unused":
            op = f"z,{self._slot('open')},{_window_seconds(o.window) * 1000}"
        elif o.measure == DAILY_MAX:
            op = f"m,{self._slot(SUBJECTS[o.subject], DAILY)},86400,{DAYS},c,x"
        elif o.measure in ("sent", "completed"):
            res, n = WINDOWS[o.window]
            slot = self._slot(SUBJECTS[o.subject], res)
            op = f"s,{slot},{RESOLUTIONS[res][0]},{n},{'s' if o.measure == 'sent' else 'c'}"
        else:
            base = f"{o.subject}.{{}}.{o.window}"
            if o.measure == "unverified":
                op = f"d,{self.value(base.format('sent'))},{self.value(base.format('completed'))}"
            elif o.measure == "conversion":
                op = f"q,{self.value(base.format('completed'))},{self.value(base.format('sent'))}"
            else:  # vs_baseline
                conv = self.value(base.format("conversion"))
                op = f"q,{conv},{self.value('phone.country.conversion.14d')}"
        self.index[name] = self._push(op, name)
        return self.index[name]

    def limit(self, limit: Learned) -> int:
        if limit not in self.learned:
            base = self.value(limit.base)
            self.learned[limit] = self._push(f"l,{base},{limit.factor!r},{limit.floor}", "")
        return self.learned[limit]

    # -- per request --------------------------------------------------------------------------

    def reads(self, s: Signals, keys: FeedbackKeys) -> StateReads:
        """This request's read keys, for Redis."""
        out: list[str] = []
        for kind, res in self.slots:
            if kind == "verified":
                out.append(keys.verified(s.e164))
            elif kind == "open":
                out.append(keys.open_codes(s.e164))
            else:
                value = DIMENSION_VALUES[kind](s)
                out.append(NONE_KEY if value is None else keys.counter(res, kind, value))
        return StateReads(tuple(out), self.program)

    def given(self, s: Signals) -> StateReads:
        """Nothing to read (local counters): the values the signals already carry (rule tests)."""
        values: list[StateValue] = []
        for name in self.names:
            v = s.state.get(name) if name else None
            values.append(float(v) if isinstance(v, (bool, int, float)) else None)
        return StateReads((), self.program, tuple(values))

    def named(self, values: tuple[StateValue, ...]) -> Mapping[str, object]:
        """The values read, as signals (booleans and counts typed as declared)."""
        out: dict[str, object] = {}
        for name, i in self.index.items():
            v = values[i - 1] if i <= len(values) else None
            kind = OUTCOMES[name].kind
            if v is None:
                out[name] = None
            elif kind == "bool":
                out[name] = v >= 1
            elif kind == "int":
                out[name] = int(v)
            else:
                out[name] = v
        return out


def _window_seconds(window: str) -> int:
    res, n = WINDOWS[window]
    return RESOLUTIONS[res][0] * n
