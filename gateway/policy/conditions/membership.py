"""Membership: `equals` one value, `in` a written list, `list` a named list of the rule set."""

from __future__ import annotations

from gateway.lists import ListKind
from gateway.policy.conditions.base import DefinedList, Leaf, Operand, matcher_test, shown_items
from gateway.policy.conditions.values import Member, member_test
from gateway.policy.signalnames import Kind

# Which list kinds a signal kind may be tested against with `list:`.
LIST_KINDS_FOR: dict[Kind, frozenset[ListKind]] = {
    "phone": frozenset({"prefix", "string", "regex"}),
    "country": frozenset({"country"}),
    "phone_type": frozenset({"string"}),
    "bool": frozenset(),
    "int": frozenset(),
    "float": frozenset(),
    "asn": frozenset({"asn"}),
    "ip": frozenset({"cidr", "string"}),
    "str": frozenset({"string", "regex"}),
}


class Equals(Leaf):
    key = "equals"
    example = "{signal: phone.valid, equals: false}"

    def __init__(
        self, operand: Operand, shown: str, member: Member, written: tuple[object, ...] = ()
    ) -> None:
        super().__init__(operand, shown)
        self.member = member
        self.written = written  # the values as validated (a state guard compiles them)

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        value = operand.value
        if isinstance(value, (list, dict)):
            operand.error(f"`{cls.key}` takes one value (use `in` for several)")
            return None
        member = member_test(operand, [value])
        return cls(operand, repr(value), member, (value,)) if member else None

    def test(self, value: object) -> bool:
        return self.member(value)


class In(Equals):
    key = "in"
    example = "{signal: phone.country, in: [GB, IE]}"

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        value = operand.value
        if not isinstance(value, list) or not value:
            operand.error("`in` takes a non-empty list of values")
            return None
        member = member_test(operand, value)
        return cls(operand, shown_items(value), member, tuple(value)) if member else None


class InList(Leaf):
    key = "list"
    example = "{signal: ip, list: office-networks}"
    applies_to = "named list of a fitting kind"

    def __init__(self, operand: Operand, shown: str, defined: DefinedList) -> None:
        super().__init__(operand, shown)
        self.test_fn = matcher_test(defined.matcher)

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        ctx, name, kind = operand.ctx, str(operand.value), operand.spec.kind
        defined = ctx.lists.get(name)
        if defined is None and name in ctx.broken_lists:
            operand.error(f"list {operand.value!r} failed to load (see its errors)")
            return None
        if defined is None:
            known = ", ".join(sorted(ctx.lists)) or "none defined"
            operand.error(f"unknown list {operand.value!r} (lists: {known})")
            return None
        if defined.kind not in LIST_KINDS_FOR[kind]:
            allowed = ", ".join(sorted(LIST_KINDS_FOR[kind])) or "none"
            operand.error(
                f"list {operand.value!r} holds {defined.kind} items; {operand.signal} can be "
                f"tested against lists of kind: {allowed}"
            )
            return None
        return cls(operand, f"{name} ({defined.size} {defined.kind} items)", defined)

    def test(self, value: object) -> bool:
        return self.test_fn(value)
