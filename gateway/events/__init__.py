"""Event log (stage 5): every decision, recorded off the request path (Redis stream + aggregates).

- `schema`: the `DecisionEvent` record (and `Outcome`), one schema for the recorder, the
  dashboard's queries, the CSV export and the tests;
- `build`: the phone-safe event of one decision (masked recipient, keyed hash, prefix);
- `keys`: where events live in Redis and what the aggregate hashes count;
- `recorder`: the `EventSink` protocol and the batching `EventRecorder`; `setup`: app[EVENTS].
"""

from gateway.events.build import HIDDEN_DIGITS, build_event, masked_recipient, safe_prefix
from gateway.events.keys import (
    ACTIONS,
    ASN_NAMES_KEY,
    DIMENSIONS,
    HOUR_PREFIX,
    MINUTE_PREFIX,
    STREAM_KEY,
    aggregate_fields,
)
from gateway.events.recorder import EventRecorder, EventSink, NullSink, RecorderStats
from gateway.events.schema import DecisionEvent, Outcome, ShadowEntry, TraceEntry
from gateway.events.setup import setup

__all__ = [
    "ACTIONS",
    "ASN_NAMES_KEY",
    "DIMENSIONS",
    "HIDDEN_DIGITS",
    "HOUR_PREFIX",
    "MINUTE_PREFIX",
    "STREAM_KEY",
    "DecisionEvent",
    "EventRecorder",
    "EventSink",
    "NullSink",
    "Outcome",
    "RecorderStats",
    "ShadowEntry",
    "TraceEntry",
    "aggregate_fields",
    "build_event",
    "masked_recipient",
    "safe_prefix",
    "setup",
]
