"""Pattern matches written in the condition itself: `prefix`, `cidr` and `regex`."""

from __future__ import annotations

import re

from gateway.errors import ConfigError
from gateway.lists import CidrList, NamedList, PrefixList, load_list
from gateway.policy.conditions.base import Leaf, Operand
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


class Prefix(Leaf):
    key = "prefix"
    example = '{signal: phone.e164, prefix: ["+4470", "+881"]}'
    kinds = frozenset({"phone"})
    applies_to = "`phone.e164`, `phone.prefix`"

    def __init__(self, operand: Operand, shown: str, prefixes: PrefixList) -> None:
        super().__init__(operand, shown)
        self.prefixes = prefixes

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        found = _inline_list("prefix", operand)
        if found is None:
            return None
        prefixes, shown = found
        assert isinstance(prefixes, PrefixList)
        return cls(operand, shown, prefixes)

    def test(self, value: object) -> bool:
        return self.prefixes.match(str(value)) is not None


class Cidr(Leaf):
    key = "cidr"
    example = '{signal: ip, cidr: [10.0.0.0/8, "2001:db8::/32"]}'
    kinds = frozenset({"ip"})
    applies_to = "`ip`"

    def __init__(self, operand: Operand, shown: str, nets: CidrList) -> None:
        super().__init__(operand, shown)
        self.nets = nets

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        found = _inline_list("cidr", operand)
        if found is None:
            return None
        nets, shown = found
        assert isinstance(nets, CidrList)
        return cls(operand, shown, nets)

    def test(self, value: object) -> bool:
        return self.nets.contains(str(value))


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
