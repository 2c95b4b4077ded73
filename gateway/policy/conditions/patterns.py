"""Pattern matches written in the condition itself: `prefix`, `cidr` and `regex`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from gateway.errors import ConfigError
from gateway.lists import ListKind, NamedList, load_list
from gateway.policy.conditions.base import Leaf, Operand, matcher_test
from gateway.regexes import UnsafeRegex, capped, compile_regex


def _inline_list(kind: str, operand: Operand) -> tuple[NamedList, str] | None:
    """Items written in the condition (`prefix: [...]`, `cidr: [...]`), built like a named list so
    every bad item is reported with its location; with the text shown in explanations."""
    value = operand.value
    raw = value if isinstance(value, list) else [value]
    items = [
        (str(v), operand.at(i) if isinstance(value, list) else operand.at())
        for i, v in enumerate(raw)
    ]
    try:
        built = load_list(kind, items, f"{operand.signal} {kind}")
    except ConfigError as exc:
        operand.ctx.problems.extend(exc.problems)
        return None
    return built, "[" + ", ".join(str(v) for v in raw[:5]) + "]"


class Inline(Leaf):
    """Items written in the condition itself, matched like a named list of `list_kind`."""

    list_kind: ClassVar[ListKind]

    def __init__(self, operand: Operand, shown: str, test: Callable[[object], bool]) -> None:
        super().__init__(operand, shown)
        self.test_fn = test

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        found = _inline_list(cls.list_kind, operand)
        if found is None:
            return None
        built, shown = found
        return cls(operand, shown, matcher_test(built))

    def test(self, value: object) -> bool:
        return self.test_fn(value)


class Prefix(Inline):
    key = "prefix"
    list_kind = "prefix"
    kinds = frozenset({"phone"})
    applies_to = "`phone.e164`, `phone.prefix`"
    example = '{signal: phone.e164, prefix: ["+4470", "+881"]}'


class Cidr(Inline):
    key = "cidr"
    list_kind = "cidr"
    kinds = frozenset({"ip"})
    applies_to = "`ip`"
    example = '{signal: ip, cidr: [10.0.0.0/8, "2001:db8::/32"]}'


class Regex(Leaf):
    key = "regex"
    example = '{signal: ua, regex: "(?i)headless"}'
    kinds = frozenset({"str", "phone", "ip"})
    applies_to = "text signals"

    def __init__(self, operand: Operand, shown: str, pattern: re.Pattern[str]) -> None:
        super().__init__(operand, shown)
        self.pattern = pattern

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        value = operand.value
        if not isinstance(value, str):
            operand.error("`regex` takes one pattern (a string)")
            return None
        try:
            pattern = compile_regex(value)
        except UnsafeRegex as exc:
            if isinstance(exc.__cause__, re.error):
                operand.error(f"invalid regex {value!r}: {exc.__cause__}")
                return None
            operand.error(str(exc))
            return None
        return cls(operand, f"/{value}/", pattern)

    def test(self, value: object) -> bool:
        return self.pattern.search(capped(str(value))) is not None
