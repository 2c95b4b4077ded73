"""`known`: whether a signal has a value at all (a GeoIP miss, an absent user agent ...)."""

from __future__ import annotations

from gateway.policy.conditions.base import Leaf, Operand
from gateway.signals import Signals


class Known(Leaf):
    """`known: true` matches when the signal has a value; `known: false` when it is unknown."""

    key = "known"
    example = "{signal: ip.country, known: false}"

    def __init__(self, operand: Operand, shown: str, want: bool) -> None:
        super().__init__(operand, shown)
        self.want = want

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        if not isinstance(operand.value, bool):
            operand.error("`known` is true or false")
            return None
        return cls(operand, str(operand.value).lower(), operand.value)

    def matches(self, s: Signals) -> bool:
        return (self.get(s) is not None) is self.want

    def test(self, value: object) -> bool:
        return self.want
