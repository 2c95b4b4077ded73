"""Where events live in Redis: the stream, the aggregate hashes and what they count.

    XADD smsguard:events MAXLEN ~ stream_max     the recent events (plus XTRIM MINID ~ by age)
    HINCRBY smsguard:agg:m:<minute> <field> n    per-minute counts, EXPIRE retention_days
    HINCRBY smsguard:agg:h:<hour>   <field> n    per-hour counts (week charts), same expiry

Aggregate fields are `a|<action>`, `<dim>|<action>|<value>` (see `DIMENSIONS`) and
`s|<would-be action>|<shadow rule>`.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.events.schema import DecisionEvent
from gateway.signals.registry import shown as shown_signals

STREAM_KEY = "smsguard:events"
MINUTE_PREFIX = "smsguard:agg:m:"
HOUR_PREFIX = "smsguard:agg:h:"
# ASN -> organisation name, for the dashboard's top lists (aggregates count by ASN number only).
ASN_NAMES_KEY = "smsguard:events:asn-names"

# Aggregate dimension code -> event field counted under it (per action): the rule, the prefix,
# and each signal the registry shows in a top list.
DIMENSIONS: dict[str, str] = {
    "r": "rule",
    "p": "prefix",
    **{how.top: where.field for where, how in shown_signals() if how.top},
}
# Actions an event can have (from Outcome.status).
ACTIONS = ("sent", "blocked", "dropped", "failed", "error")


def aggregate_fields(event: DecisionEvent) -> Iterator[str]:
    """The aggregate hash fields one event increments."""
    action = event.action
    yield f"a|{action}"
    for code, name in DIMENSIONS.items():
        value = event.get(name)
        if value is not None and value != "":
            yield f"{code}|{action}|{value}"
    for hit in event.shadow:
        yield f"s|{hit.action}|{hit.rule}"
