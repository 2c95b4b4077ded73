"""Rule conditions: small classes in a registry keyed by the operator written in YAML.

A leaf is a mapping with `signal:` and exactly one operator key:

    {signal: phone.type, in: [PREMIUM_RATE, SHARED_COST]}
    {signal: ip, list: office-networks}
    {signal: body.code_length, lt: 4}

Trees combine leaves with `all: [...]`, `any: [...]` and `not: {...}`. Parsing never stops at the
first problem: every one is added to the context with its file:line:col.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gateway.errors import ConfigError, Location, Problem
from gateway.lists import CidrList, PrefixList, RegexList, ValueList, load_list
from gateway.policy.signalnames import SIGNALS, Getter, Kind, SignalSpec, prefix_getter
from gateway.signals import Signals
from gateway.yamlsrc import Locator

NamedList = CidrList | PrefixList | ValueList | RegexList

PHONE_TYPES = frozenset(
    {
        "FIXED_LINE",
        "MOBILE",
        "FIXED_LINE_OR_MOBILE",
        "TOLL_FREE",
        "PREMIUM_RATE",
        "SHARED_COST",
        "VOIP",
        "PERSONAL_NUMBER",
        "PAGER",
        "UAN",
        "VOICEMAIL",
        "UNKNOWN",
    }
)

# Which list kinds a signal kind may be tested against with `list:`.
LIST_KINDS_FOR: dict[Kind, frozenset[str]] = {
    "phone": frozenset({"prefix", "string", "regex"}),
    "country": frozenset({"country"}),
    "phone_type": frozenset({"string"}),
    "bool": frozenset(),
    "int": frozenset(),
    "asn": frozenset({"asn"}),
    "ip": frozenset({"cidr", "string"}),
    "str": frozenset({"string", "regex"}),
}


@dataclass(frozen=True)
class DefinedList:
    """A named list of the rule set: its kind and the loaded matcher."""

    name: str
    kind: str
    matcher: NamedList
    size: int
    location: Location


@dataclass
class ParseContext:
    locator: Locator
    lists: dict[str, DefinedList]
    problems: list[Problem] = field(default_factory=list)
    broken_lists: set[str] = field(default_factory=set)  # defined but invalid: reported already

    def error(self, path: Sequence[str | int], message: str) -> None:
        self.problems.append(Problem(self.locator.at(path), message))


class Condition:
    """A test over the signals. `explain` says, for a person, what was compared and the result."""

    def matches(self, s: Signals) -> bool:
        raise NotImplementedError

    def explain(self, s: Signals) -> str:
        raise NotImplementedError


# ------------------------------------------------------------------------------------ combinators


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


# ------------------------------------------------------------------------------------------ leaves


class Leaf(Condition):
    """One operator applied to one signal. Subclasses set `key` and implement `parse` and `test`."""

    key: ClassVar[str]
    kinds: ClassVar[frozenset[Kind] | None] = None  # signal kinds it applies to; None = all

    def __init__(self, signal: str, get: Getter, shown: str) -> None:
        self.signal = signal
        self.get = get
        self.shown = shown  # the operand as written, for explanations

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        raise NotImplementedError

    def test(self, value: object) -> bool:
        raise NotImplementedError

    def matches(self, s: Signals) -> bool:
        value = self.get(s)
        return value is not None and self.test(value)

    def explain(self, s: Signals) -> str:
        value = self.get(s)
        shown_value = _show(self.signal, value)
        result = "yes" if value is not None and self.test(value) else "no"
        return f"{self.signal}={shown_value} {self.key} {self.shown}: {result}"


def _show(signal: str, value: object) -> str:
    if value is None:
        return "unknown"
    if signal == "phone.e164" and isinstance(value, str):
        from gateway.logs import mask_phone

        return mask_phone(value)
    return repr(value) if isinstance(value, str) else str(value)


def _values(
    spec: SignalSpec, raw: list[Any], ctx: ParseContext, path: tuple[str | int, ...]
) -> Callable[[object], bool] | None:
    """Validate inline values for a signal's kind; return a membership test."""
    kind = spec.kind
    items: list[tuple[str, Location]] = []
    ok = True
    if kind in ("country", "asn"):
        for i, v in enumerate(raw):
            items.append((str(v), ctx.locator.at((*path, i))))
        try:
            vl = load_list(kind, items, f"{spec.name} values")
        except ConfigError as exc:
            ctx.problems.extend(exc.problems)
            return None
        assert isinstance(vl, ValueList)
        return vl.contains  # type: ignore[return-value]
    accepted: set[object] = set()
    for i, v in enumerate(raw):
        where = (*path, i)
        if kind == "bool":
            if not isinstance(v, bool):
                ctx.error(where, f"{spec.name} is true or false, not {v!r}")
                ok = False
            accepted.add(v)
        elif kind == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                ctx.error(where, f"{spec.name} is an integer, not {v!r}")
                ok = False
            accepted.add(v)
        elif kind == "phone_type":
            name = str(v).upper()
            if name not in PHONE_TYPES:
                ctx.error(
                    where, f"unknown number type {v!r} (one of {', '.join(sorted(PHONE_TYPES))})"
                )
                ok = False
            accepted.add(name)
        elif kind == "ip":
            try:
                accepted.add(str(ipaddress.ip_address(str(v))))
            except ValueError:
                ctx.error(where, f"{v!r} is not an IP address")
                ok = False
        elif kind == "phone":
            text = str(v)
            if spec.name == "phone.e164" and not re.fullmatch(r"\+[1-9]\d{5,14}", text):
                ctx.error(where, f"{v!r} is not an E.164 number (+ and 6 to 15 digits)")
                ok = False
            accepted.add(text.lstrip("+") if spec.name == "phone.prefix" else text)
        else:
            if isinstance(v, (dict, list)):
                ctx.error(where, f"{spec.name} values are strings, not {type(v).__name__}")
                ok = False
            accepted.add(str(v))
    if not ok:
        return None
    frozen = frozenset(accepted)
    return frozen.__contains__


class Equals(Leaf):
    key = "equals"

    def __init__(self, signal: str, get: Getter, shown: str, member: Callable[[object], bool]):
        super().__init__(signal, get, shown)
        self.member = member

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        if isinstance(value, (list, dict)):
            ctx.error(path, f"`{cls.key}` takes one value (use `in` for several)")
            return None
        member = _values(spec, [value], ctx, path)
        return cls(signal, get, repr(value), member) if member else None

    def test(self, value: object) -> bool:
        return self.member(value)


class In(Equals):
    key = "in"

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        if not isinstance(value, list) or not value:
            ctx.error(path, "`in` takes a non-empty list of values")
            return None
        member = _values(spec, value, ctx, path)
        shown = (
            "[" + ", ".join(str(v) for v in value[:5]) + (", ..." if len(value) > 5 else "") + "]"
        )
        return cls(signal, get, shown, member) if member else None


class InList(Leaf):
    key = "list"

    def __init__(self, signal: str, get: Getter, shown: str, defined: DefinedList) -> None:
        super().__init__(signal, get, shown)
        m = defined.matcher
        self.test_fn: Callable[[object], bool]
        if isinstance(m, PrefixList):
            self.test_fn = lambda v: m.match(str(v)) is not None
        elif isinstance(m, RegexList):
            self.test_fn = lambda v: m.search(str(v)) is not None
        elif isinstance(m, CidrList):
            self.test_fn = lambda v: m.contains(str(v))
        else:
            self.test_fn = lambda v: m.contains(v)  # type: ignore[arg-type]

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        defined = ctx.lists.get(str(value))
        if defined is None and str(value) in ctx.broken_lists:
            ctx.error(path, f"list {value!r} failed to load (see its errors)")
            return None
        if defined is None:
            known = ", ".join(sorted(ctx.lists)) or "none defined"
            ctx.error(path, f"unknown list {value!r} (lists: {known})")
            return None
        if defined.kind not in LIST_KINDS_FOR[spec.kind]:
            allowed = ", ".join(sorted(LIST_KINDS_FOR[spec.kind])) or "none"
            ctx.error(
                path,
                f"list {value!r} holds {defined.kind} items; {signal} can be tested "
                f"against lists of kind: {allowed}",
            )
            return None
        return cls(signal, get, f"{value} ({defined.size} {defined.kind} items)", defined)

    def test(self, value: object) -> bool:
        return self.test_fn(value)


def _inline_list(
    kind: str, value: Any, ctx: ParseContext, path: tuple[str | int, ...], signal: str
) -> tuple[Any, str] | None:
    """Items written in the condition itself (`prefix: [...]`, `cidr: [...]`), built like a named
    list so every bad item is reported with its location; with the text shown in traces."""
    raw = value if isinstance(value, list) else [value]
    items = [
        (str(v), ctx.locator.at((*path, i) if isinstance(value, list) else path))
        for i, v in enumerate(raw)
    ]
    try:
        built = load_list(kind, items, f"{signal} {kind}")
    except ConfigError as exc:
        ctx.problems.extend(exc.problems)
        return None
    return built, "[" + ", ".join(str(v) for v in raw[:5]) + "]"


class Prefix(Leaf):
    key = "prefix"
    kinds = frozenset({"phone"})

    def __init__(self, signal: str, get: Getter, shown: str, prefixes: PrefixList) -> None:
        super().__init__(signal, get, shown)
        self.prefixes = prefixes

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        found = _inline_list("prefix", value, ctx, path, signal)
        if found is None:
            return None
        prefixes, shown = found
        assert isinstance(prefixes, PrefixList)
        return cls(signal, get, shown, prefixes)

    def test(self, value: object) -> bool:
        return self.prefixes.match(str(value)) is not None


class Cidr(Leaf):
    key = "cidr"
    kinds = frozenset({"ip"})

    def __init__(self, signal: str, get: Getter, shown: str, nets: CidrList) -> None:
        super().__init__(signal, get, shown)
        self.nets = nets

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        found = _inline_list("cidr", value, ctx, path, signal)
        if found is None:
            return None
        nets, shown = found
        assert isinstance(nets, CidrList)
        return cls(signal, get, shown, nets)

    def test(self, value: object) -> bool:
        return self.nets.contains(str(value))


class Regex(Leaf):
    key = "regex"
    kinds = frozenset({"str", "phone", "ip"})

    def __init__(self, signal: str, get: Getter, shown: str, pattern: re.Pattern[str]) -> None:
        super().__init__(signal, get, shown)
        self.pattern = pattern

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        if not isinstance(value, str):
            ctx.error(path, "`regex` takes one pattern (a string)")
            return None
        try:
            pattern = re.compile(value)
        except re.error as exc:
            ctx.error(path, f"invalid regex {value!r}: {exc}")
            return None
        return cls(signal, get, f"/{value}/", pattern)

    def test(self, value: object) -> bool:
        return self.pattern.search(str(value)) is not None


class Compare(Leaf):
    key = "lt"
    kinds = frozenset({"int", "asn"})

    def __init__(self, signal: str, get: Getter, shown: str, bound: float) -> None:
        super().__init__(signal, get, shown)
        self.bound = bound

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.error(path, f"`{cls.key}` takes a number, not {value!r}")
            return None
        return cls(signal, get, str(value), float(value))

    def test(self, value: object) -> bool:
        return isinstance(value, (int, float)) and self.compare(float(value), self.bound)

    def compare(self, a: float, b: float) -> bool:
        return a < b


class Le(Compare):
    key = "le"

    def compare(self, a: float, b: float) -> bool:
        return a <= b


class Gt(Compare):
    key = "gt"

    def compare(self, a: float, b: float) -> bool:
        return a > b


class Ge(Compare):
    key = "ge"

    def compare(self, a: float, b: float) -> bool:
        return a >= b


class Known(Leaf):
    """`known: true` matches when the signal has a value; `known: false` when it is unknown."""

    key = "known"

    def __init__(self, signal: str, get: Getter, shown: str, want: bool) -> None:
        super().__init__(signal, get, shown)
        self.want = want

    @classmethod
    def parse(
        cls,
        spec: SignalSpec,
        value: Any,
        ctx: ParseContext,
        path: tuple[str | int, ...],
        get: Getter,
        signal: str,
    ) -> Leaf | None:
        if not isinstance(value, bool):
            ctx.error(path, "`known` is true or false")
            return None
        return cls(signal, get, str(value).lower(), value)

    def matches(self, s: Signals) -> bool:
        return (self.get(s) is not None) is self.want

    def explain(self, s: Signals) -> str:
        value = self.get(s)
        result = "yes" if self.matches(s) else "no"
        return f"{self.signal}={_show(self.signal, value)} known {self.shown}: {result}"

    def test(self, value: object) -> bool:
        return self.want


# The registry: operator written in YAML -> class.
OPERATORS: dict[str, type[Leaf]] = {
    cls.key: cls for cls in (Equals, In, InList, Prefix, Cidr, Regex, Compare, Le, Gt, Ge, Known)
}
COMBINATORS = ("all", "any", "not")


def parse_condition(node: Any, ctx: ParseContext, path: tuple[str | int, ...]) -> Condition | None:
    """Parse a condition tree (a list means `all`); None, with problems added, when invalid."""
    if isinstance(node, list):
        if not node:
            ctx.error(path, "an empty list of conditions (it would match every request)")
            return None
        return _parse_children(node, ctx, path, All)
    if not isinstance(node, dict) or not node:
        ctx.error(path, "a condition is a mapping: {signal: ..., <operator>: ...} or all/any/not")
        return None
    combinator = [k for k in node if k in COMBINATORS]
    if combinator:
        if len(node) != 1:
            others = ", ".join(str(k) for k in node if k != combinator[0])
            ctx.error(path, f"`{combinator[0]}` stands alone in its mapping; also found: {others}")
            return None
        key = combinator[0]
        child = node[key]
        if key == "not":
            inner = parse_condition(child, ctx, (*path, key))
            return Not(inner) if inner else None
        if not isinstance(child, list) or not child:
            ctx.error((*path, key), f"`{key}` takes a non-empty list of conditions")
            return None
        return _parse_children(child, ctx, (*path, key), All if key == "all" else Any_)
    return _parse_leaf(node, ctx, path)


def _parse_children(
    items: list[Any],
    ctx: ParseContext,
    path: tuple[str | int, ...],
    make: Callable[[list[Condition]], Condition],
) -> Condition | None:
    children = [parse_condition(item, ctx, (*path, i)) for i, item in enumerate(items)]
    if any(c is None for c in children):
        return None
    return make([c for c in children if c is not None])


def _parse_leaf(
    node: dict[str, Any], ctx: ParseContext, path: tuple[str | int, ...]
) -> Leaf | None:
    ok = True
    for key in node:
        if key not in OPERATORS and key not in ("signal", "digits"):
            ctx.error(
                (*path, key),
                f"unknown key {key!r} in a condition (operators: "
                f"{', '.join(OPERATORS)}; combinators: all, any, not)",
            )
            ok = False
    signal = node.get("signal")
    if signal is None:
        ctx.error(path, "a condition needs `signal:`")
        return None
    spec = SIGNALS.get(str(signal))
    if spec is None:
        ctx.error((*path, "signal"), f"unknown signal {signal!r} (known: {', '.join(SIGNALS)})")
        return None
    get = spec.get
    shown_signal = spec.name
    if spec.name == "phone.prefix":
        digits = node.get("digits")
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
            ctx.error(
                (*path, "digits") if "digits" in node else path,
                "phone.prefix needs `digits:` between 1 and 15",
            )
            ok = False
        else:
            get = prefix_getter(digits)
            shown_signal = f"phone.prefix[{digits}]"
    elif "digits" in node:
        ctx.error((*path, "digits"), "`digits` applies only to signal phone.prefix")
        ok = False
    ops = [k for k in node if k in OPERATORS]
    if not ops and not ok:
        return None  # an unknown key was reported: most likely the misspelt operator
    if len(ops) != 1:
        ctx.error(
            path, f"a condition has exactly one operator ({', '.join(OPERATORS)}); found {len(ops)}"
        )
        return None
    op = OPERATORS[ops[0]]
    if op.kinds is not None and spec.kind not in op.kinds:
        ctx.error(
            (*path, ops[0]), f"`{ops[0]}` does not apply to {spec.name} (a {spec.kind} signal)"
        )
        return None
    if spec.name == "phone.prefix" and ok and ops[0] in ("equals", "in"):
        ok = _prefix_lengths(node[ops[0]], node["digits"], ctx, (*path, ops[0]))
    leaf = op.parse(spec, node[ops[0]], ctx, (*path, ops[0]), get, shown_signal)
    return leaf if ok else None


def _prefix_lengths(raw: Any, digits: int, ctx: ParseContext, path: tuple[str | int, ...]) -> bool:
    """phone.prefix with `digits: N` is N digits long: other lengths could never match."""
    values = raw if isinstance(raw, list) else [raw]
    ok = True
    for i, v in enumerate(values):
        text = str(v).lstrip("+")
        if text.isdigit() and len(text) != digits:
            where = (*path, i) if isinstance(raw, list) else path
            ctx.error(
                where,
                f"{v!r} has {len(text)} digits but phone.prefix has `digits: {digits}`: "
                "it could never match (use `prefix:` on phone.e164 for shorter prefixes)",
            )
            ok = False
    return ok
