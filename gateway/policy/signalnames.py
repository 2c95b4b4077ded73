"""The names rules use for signals: the signal registry, seen from the policy.

Signals are declared once in `gateway.signals.registry`; this module keeps the policy's import path.
"""

from __future__ import annotations

from gateway.signals.registry import (
    ALIASES,
    SIGNALS,
    Getter,
    Kind,
    SignalSpec,
    national_prefix_getter,
    prefix_getter,
    resolve,
)

__all__ = [
    "ALIASES",
    "SIGNALS",
    "Getter",
    "Kind",
    "SignalSpec",
    "national_prefix_getter",
    "prefix_getter",
    "resolve",
]
