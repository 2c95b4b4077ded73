"""Building the event of one decision: phone-safe by construction.

An event keeps the recipient only as a keyed hash, its first `events.prefix_digits` digits (the
dashboard's block target) and a masked form that leaves HIDDEN_DIGITS after the prefix unknown.
Free text (reasons, trace details, provider errors) is stored phone-masked and bounded.
"""

from __future__ import annotations

import re

from gateway.events.schema import DecisionEvent, JsonScalar, Outcome, ShadowEntry, TraceEntry
from gateway.logs import PhoneHasher, mask_phones_in
from gateway.models import Decision, SmsRequest
from gateway.signals import Signals
from gateway.signals.registry import stored as stored_signals

# Bounds that keep one event small whatever the rules produce.
_MAX_TRACE = 60
_MAX_DETAIL = 200
_MAX_TEXT = 300
# Digits of a recipient no event shows: the prefix (the dashboard's block target) is kept whole,
# so the masked recipient gives up tail digits instead of the prefix giving up its own.
HIDDEN_DIGITS = 4
_TAIL_MAX = 3
# The tail of a masked number ("+44*******123", or "44*******123" in velocity reasons).
_MASKED_TAIL = re.compile(r"(?<!\d)(\d{2}\*+)\d{3}(?!\d)")


def build_event(
    sms: SmsRequest,
    signals: Signals | None,
    decision: Decision | None,
    outcome: Outcome,
    *,
    hasher: PhoneHasher,
    prefix_digits: int,
) -> DecisionEvent:
    """The stored form of one decision: phone-safe (masked + keyed hash + prefix only)."""
    prefix = safe_prefix(sms.recipient, prefix_digits)
    event = DecisionEvent(
        time=sms.received_at,
        id=sms.request_id,
        action=outcome.status,
        http_status=outcome.http_status,
        to=masked_recipient(sms.recipient, prefix),
        phone_hash=hasher(sms.recipient),
        prefix=prefix,
        latency_ms=round(outcome.latency_ms, 2),
        provider=outcome.provider,
        provider_message_id=outcome.provider_message_id if outcome.provider else None,
        error=_cut(outcome.error) if outcome.error else None,
        signals=_stored_signals(sms, signals),
    )
    if decision is not None:
        event.decision = decision.action.value
        event.rule = decision.rule_id
        event.reason = _cut(decision.reason)
        event.tags = list(decision.tags)
        event.shadow = [ShadowEntry(h.rule_id, h.action, _cut(h.reason)) for h in decision.shadow]
        event.trace = [
            TraceEntry(
                s.rule_id, s.matched, (_cut(s.detail, _MAX_DETAIL) or "") if s.matched else ""
            )
            for s in decision.trace[:_MAX_TRACE]
        ]
        event.trace_cut = max(0, len(decision.trace) - _MAX_TRACE)
    return event


def _stored_signals(sms: SmsRequest, signals: Signals | None) -> dict[str, JsonScalar]:
    """The registry's stored signals by event field; the request's raw IP until one is known."""
    values: dict[str, JsonScalar] = {"ip": sms.ip}
    if signals is None:
        return values
    for spec, how in stored_signals():
        value = spec.get(signals)
        if isinstance(value, str) and how.limit is not None:
            value = _cut(value, how.limit)
        if value is not None or values.get(how.field) is None:
            values[how.field] = _json_scalar(value)
    return values


def _json_scalar(value: object) -> JsonScalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _cut(text: str | None, limit: int = _MAX_TEXT) -> str | None:
    """Free text for an event: phone-number-like runs masked, then cut to `limit` characters.

    The tail digits a log line keeps are starred too: beside the event's `prefix` they would leave
    fewer than HIDDEN_DIGITS unknown.
    """
    if text is None:
        return None
    text = _MASKED_TAIL.sub(r"\1***", mask_phones_in(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_prefix(number: str, digits: int) -> str:
    """The first `digits` digits; shorter only for a number so short that they would leave fewer
    than HIDDEN_DIGITS unknown (a 7-digit island number)."""
    body = number.lstrip("+")
    return body[: max(0, min(digits, len(body) - HIDDEN_DIGITS))]


def masked_recipient(number: str, prefix: str) -> str:
    """The recipient as events show it: the prefix, stars, and as many of the last 3 digits as
    leave HIDDEN_DIGITS unknown: +447285123456 with prefix 447285 is "+447285****56"."""
    if not number:
        return ""
    body = number.lstrip("+")
    tail = max(0, min(_TAIL_MAX, len(body) - len(prefix) - HIDDEN_DIGITS))
    return "+" + prefix + "*" * (len(body) - len(prefix) - tail) + body[len(body) - tail :]
