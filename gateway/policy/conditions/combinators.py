"""`all`, `any` and `not`: conditions built from other conditions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from gateway.policy.conditions.base import Condition
from gateway.signals import Signals


class Group(Condition):
    """Children combined by `combine` (all or any), shown as `name(...)`."""

    name: ClassVar[str]
    combine: ClassVar[Callable[[Iterable[bool]], bool]]

    def __init__(self, children: list[Condition]) -> None:
        self.children = children

    def matches(self, s: Signals) -> bool:
        return type(self).combine(c.matches(s) for c in self.children)

    def explain(self, s: Signals) -> str:
        return self.name + "(" + "; ".join(c.explain(s) for c in self.children) + ")"


class All(Group):
    name = "all"
    combine = all


class Any_(Group):
    name = "any"
    combine = any


class Not(Condition):
    def __init__(self, child: Condition) -> None:
        self.child = child

    def matches(self, s: Signals) -> bool:
        return not self.child.matches(s)

    def explain(self, s: Signals) -> str:
        return f"not({self.child.explain(s)})"
