"""Numeric comparisons: `lt`, `le`, `gt`, `ge` against one number."""

from __future__ import annotations

from gateway.policy.conditions.base import Leaf, Operand


class Compare(Leaf):
    key = "lt"
    example = "{signal: body.code_length, lt: 6}"
    kinds = frozenset({"int", "float", "asn"})
    applies_to = "numbers"

    def __init__(self, operand: Operand, shown: str, bound: float) -> None:
        super().__init__(operand, shown)
        self.bound = bound

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        value = operand.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            operand.error(f"`{cls.key}` takes a number, not {value!r}")
            return None
        return cls(operand, str(value), float(value))

    def test(self, value: object) -> bool:
        return isinstance(value, (int, float)) and self.compare(float(value), self.bound)

    def compare(self, a: float, b: float) -> bool:
        return a < b


class Le(Compare):
    key = "le"
    example = "{signal: body.code_length, le: 6}"

    def compare(self, a: float, b: float) -> bool:
        return a <= b


class Gt(Compare):
    key = "gt"
    example = "{signal: body.code_length, gt: 6}"

    def compare(self, a: float, b: float) -> bool:
        return a > b


class Ge(Compare):
    key = "ge"
    example = "{signal: body.code_length, ge: 6}"

    def compare(self, a: float, b: float) -> bool:
        return a >= b
