"""Conditions that depend on state read during the decision: what is left of them per request,
and that remainder compiled into a guard the decision script evaluates (`gateway.velocity.state`).

A rule such as "block when the range's conversion collapsed, unless the recipient is verified" is
decided inside the same Redis call that reads the conversion, so that its refusal stops the later
counters as any refusal does. Per request, the request signals are evaluated here first (partial
evaluation): most rules are decided without the state; what remains is a small tree over state
signals only, compiled to the script's postfix guard. Unknown state compares false, as in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gateway.policy.conditions import Condition, Leaf
from gateway.policy.conditions.combinators import All, Any_, Group, Not
from gateway.policy.conditions.compare import Compare
from gateway.policy.conditions.known import Known
from gateway.policy.conditions.membership import Equals
from gateway.signals import Signals
from gateway.signals.outcomes import CONFIGURED, OUTCOMES

# State the decision script reads (feedback.configured is the gateway's own setting, not read).
READ_SIGNALS = frozenset(name for name in OUTCOMES if name != CONFIGURED)
# Operators a state signal can be tested with (they compile to the script's guards).
STATE_OPERATORS = frozenset({"lt", "le", "gt", "ge", "equals", "in", "known"})

_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def leaves(cond: Condition) -> Iterator[Leaf]:
    if isinstance(cond, Leaf):
        yield cond
    elif isinstance(cond, Group):
        for child in cond.children:
            yield from leaves(child)
    elif isinstance(cond, Not):
        yield from leaves(cond.child)


def state_signals(cond: Condition | None) -> list[str]:
    """The read state signals a condition names, in order, once each."""
    if cond is None:
        return []
    return list(dict.fromkeys(leaf.signal for leaf in leaves(cond) if leaf.signal in READ_SIGNALS))


def residual(cond: Condition, s: Signals) -> bool | Condition:
    """The condition with every request signal evaluated: True, False, or what depends on state."""
    if isinstance(cond, Leaf):
        return cond if cond.signal in READ_SIGNALS else cond.matches(s)
    if isinstance(cond, Not):
        inner = residual(cond.child, s)
        return (not inner) if isinstance(inner, bool) else Not(inner)
    if isinstance(cond, Group):
        decisive = isinstance(cond, Any_)  # the value that decides the group alone
        rest: list[Condition] = []
        for child in cond.children:
            r = residual(child, s)
            if r is decisive:
                return decisive
            if not isinstance(r, bool):
                rest.append(r)
        if not rest:
            return not decisive
        return rest[0] if len(rest) == 1 else type(cond)(rest)
    return cond.matches(s)


def compile_guard(cond: Condition, index: Callable[[str], int]) -> str:
    """The script's postfix guard for a condition over state signals (`index`: V position)."""
    if isinstance(cond, Not):
        return f"{compile_guard(cond.child, index)} !"
    if isinstance(cond, Group):
        op = "&" if isinstance(cond, All) else "|"
        parts = [compile_guard(c, index) for c in cond.children]
        return " ".join([parts[0], *(f"{p} {op}" for p in parts[1:])])
    assert isinstance(cond, Leaf)
    v = f"v{index(cond.signal)}"
    if isinstance(cond, Known):
        return f"{v} ?" if cond.want else f"{v} ? !"
    if isinstance(cond, Compare):
        return f"{v} #{cond.bound!r} {_COMPARE[cond.key]}"
    if isinstance(cond, Equals):
        values = [float(x) for x in cond.written if isinstance(x, (bool, int, float))]
        parts = [f"{v} #{x!r} =" for x in values]
        return " ".join([parts[0], *(f"{p} |" for p in parts[1:])])
    raise AssertionError(f"operator {cond.key} on a state signal passed the loader")
