"""The decision event: one typed record, written by the recorder and read by the dashboard.

Stored as compact JSON in the events stream. The fields of the decision and its outcome are
fixed here; the signals an event keeps are the ones `gateway.signals.registry` declares `Stored`,
kept in `signals` by their event field and written flat beside the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# A stored signal value: what JSON gives back.
JsonScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened after the decision."""

    status: str  # "sent", "blocked", "dropped", "failed" (every provider failed), "error"
    http_status: int
    provider: str | None = None
    provider_message_id: str | None = None
    error: str | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class ShadowEntry:
    """A shadow rule that matched: what it would have done."""

    rule: str
    action: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One rule evaluated; the detail only where it matched (keeps events small)."""

    rule: str
    matched: bool
    detail: str = ""


@dataclass(slots=True)
class DecisionEvent:
    time: float
    id: str
    action: str  # an Outcome status
    http_status: int
    to: str  # the masked recipient
    phone_hash: str
    prefix: str  # the first events.prefix_digits digits: the dashboard's block target
    latency_ms: float = 0.0
    provider: str | None = None
    provider_message_id: str | None = None
    error: str | None = None
    decision: str | None = None
    rule: str | None = None
    reason: str | None = None
    tags: list[str] = field(default_factory=list)
    shadow: list[ShadowEntry] = field(default_factory=list)
    trace: list[TraceEntry] = field(default_factory=list)
    trace_cut: int = 0  # rules evaluated beyond the stored trace
    signals: dict[str, JsonScalar] = field(default_factory=dict)  # by event field
    sid: str = ""  # the stream id, once stored
    delivery: dict[str, str] | None = None  # the provider's delivery status, attached when read

    def __getitem__(self, name: str) -> object:
        """A field or a stored signal by its event field (templates write `e.country`)."""
        if name in _FIELDS:
            return getattr(self, name)
        if name in self.signals:
            return self.signals[name]
        raise KeyError(name)

    def get(self, name: str) -> object:
        """A field or a stored signal; None when the event does not have it."""
        try:
            return self[name]
        except KeyError:
            return None

    def as_dict(self) -> dict[str, object]:
        """Every field, signals flat beside them: the dashboard's JSON and the raw view."""
        out: dict[str, object] = {name: getattr(self, name) for name in _SCALARS}
        out.update(self.signals)
        out["tags"] = list(self.tags)
        out["shadow"] = [_shadow_dict(h) for h in self.shadow]
        out["trace"] = [_trace_list(t) for t in self.trace]
        out["trace_cut"] = self.trace_cut
        out["sid"] = self.sid
        out["delivery"] = self.delivery
        return out

    def to_json(self) -> str:
        """The stream form: compact, without empty optional fields, sid or delivery."""
        out: dict[str, object] = {
            name: value
            for name in _SCALARS
            if (value := getattr(self, name)) is not None or name in _ALWAYS
        }
        out.update(self.signals)
        if self.tags:
            out["tags"] = self.tags
        if self.shadow:
            out["shadow"] = [_shadow_dict(h) for h in self.shadow]
        if self.trace:
            out["trace"] = [_trace_list(t) for t in self.trace]
        if self.trace_cut:
            out["trace_cut"] = self.trace_cut
        return json.dumps(out, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes, sid: str = "") -> DecisionEvent:
        """A stored event back; tolerant of events written by older versions (missing fields)."""
        data = json.loads(raw)
        data = data if isinstance(data, dict) else {}
        return cls(
            time=float(data.get("time") or 0),
            id=str(data.get("id") or ""),
            action=str(data.get("action") or ""),
            http_status=int(data.get("http_status") or 0),
            to=str(data.get("to") or ""),
            phone_hash=str(data.get("phone_hash") or ""),
            prefix=str(data.get("prefix") or ""),
            latency_ms=float(data.get("latency_ms") or 0),
            provider=_text(data.get("provider")),
            provider_message_id=_text(data.get("provider_message_id")),
            error=_text(data.get("error")),
            decision=_text(data.get("decision")),
            rule=_text(data.get("rule")),
            reason=_text(data.get("reason")),
            tags=[str(t) for t in data.get("tags") or []],
            shadow=[
                ShadowEntry(str(h.get("rule")), str(h.get("action")), _text(h.get("reason")))
                for h in data.get("shadow") or []
                if isinstance(h, dict)
            ],
            trace=[
                TraceEntry(str(t[0]), bool(t[1]), str(t[2]))
                for t in data.get("trace") or []
                if isinstance(t, list) and len(t) == 3
            ],
            trace_cut=int(data.get("trace_cut") or 0),
            signals={k: v for k, v in data.items() if k not in _FIELDS and _scalar(v)},
            sid=sid,
        )


# Fields written as they are (None when unknown); `_ALWAYS` even when None.
_SCALARS = (
    "time",
    "id",
    "action",
    "http_status",
    "to",
    "phone_hash",
    "prefix",
    "latency_ms",
    "provider",
    "provider_message_id",
    "error",
    "decision",
    "rule",
    "reason",
)
_ALWAYS = frozenset(_SCALARS[:8])
_FIELDS = frozenset(DecisionEvent.__dataclass_fields__) - {"signals"}


def _shadow_dict(h: ShadowEntry) -> dict[str, str | None]:
    return {"rule": h.rule, "action": h.action, "reason": h.reason}


def _trace_list(t: TraceEntry) -> list[str | bool]:
    return [t.rule, t.matched, t.detail]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
