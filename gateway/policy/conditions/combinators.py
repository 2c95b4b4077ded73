"""`all`, `any` and `not`: conditions built from other conditions."""

from __future__ import annotations

from gateway.policy.conditions.base import Condition
from gateway.signals import Signals


class All(Condition):
    def __init__(self, children: list[Condition]) -> None:
        self.children = children

    def matches(self, s: Signals) -> bool:
        return all(c.matches(s) for c in self.children)

    def explain(self, s: Signals) -> str:
        return "all(" + "; ".join(c.explain(s) for c in self.children) + ")"


class Any_(Condition):
    def __init__(self, children: list[Condition]) -> None:
        self.children = children

    def matches(self, s: Signals) -> bool:
        return any(c.matches(s) for c in self.children)

    def explain(self, s: Signals) -> str:
        return "any(" + "; ".join(c.explain(s) for c in self.children) + ")"


class Not(Condition):
    def __init__(self, child: Condition) -> None:
        self.child = child

    def matches(self, s: Signals) -> bool:
        return not self.child.matches(s)

    def explain(self, s: Signals) -> str:
        return f"not({self.child.explain(s)})"
