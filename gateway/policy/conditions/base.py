"""What every condition shares: the `Condition` interface, the `Leaf` (one operator on one signal)
and the `Operand` handed to a leaf's `parse` (what was written, where, and for which signal)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from gateway.errors import Location, Problem
from gateway.lists import CidrList, NamedList, PrefixList, RegexList
from gateway.policy.signalnames import Getter, Kind, SignalSpec
from gateway.signals import Signals
from gateway.yamlsrc import Locator

# A position in the YAML document: keys and list indexes from the file's root.
YamlPath = tuple[str | int, ...]


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
    """One rule set's parse: its named lists and every problem found so far."""

    locator: Locator
    lists: dict[str, DefinedList]
    problems: list[Problem] = field(default_factory=list)
    broken_lists: set[str] = field(default_factory=set)  # defined but invalid: reported already

    def error(self, path: Sequence[str | int], message: str) -> None:
        self.problems.append(Problem(self.locator.at(path), message))


@dataclass(frozen=True)
class Operand:
    """An operator's value as written in one leaf, with the signal it tests and where it stands."""

    spec: SignalSpec
    value: object
    ctx: ParseContext
    path: YamlPath
    get: Getter
    signal: str  # the signal as shown in explanations ("phone.prefix[4]")

    def error(self, message: str, *, at: YamlPath = ()) -> None:
        self.ctx.error((*self.path, *at), message)

    def at(self, *more: str | int) -> Location:
        return self.ctx.locator.at((*self.path, *more))


class Condition:
    """A test over the signals. `explain` says, for a person, what was compared and the result."""

    def matches(self, s: Signals) -> bool:
        raise NotImplementedError

    def explain(self, s: Signals) -> str:
        raise NotImplementedError


class Leaf(Condition):
    """One operator applied to one signal: a subclass sets `key` (the operator written in YAML),
    the signal `kinds` it applies to, and implements `parse` and `test`."""

    key: ClassVar[str]
    kinds: ClassVar[frozenset[Kind] | None] = None  # signal kinds it applies to; None = all
    applies_to: ClassVar[str] = "every signal"  # the README's "applies to" column
    example: ClassVar[str]  # one leaf in YAML, as the README's rule reference shows it

    def __init__(self, operand: Operand, shown: str) -> None:
        self.signal = operand.signal
        self.get = operand.get
        self.shown = shown  # the operand as written, for explanations

    @classmethod
    def parse(cls, operand: Operand) -> Leaf | None:
        """The leaf, or None with every problem added to the operand's context."""
        raise NotImplementedError

    def test(self, value: object) -> bool:
        raise NotImplementedError

    def matches(self, s: Signals) -> bool:
        value = self.get(s)
        return value is not None and self.test(value)

    def explain(self, s: Signals) -> str:
        value = self.get(s)
        result = "yes" if self.matches(s) else "no"
        return f"{self.signal}={show(self.signal, value)} {self.key} {self.shown}: {result}"


def show(signal: str, value: object) -> str:
    """A signal's value in an explanation (the recipient masked)."""
    if value is None:
        return "unknown"
    if signal == "phone.e164" and isinstance(value, str):
        from gateway.logs import mask_phone

        return mask_phone(value)
    return repr(value) if isinstance(value, str) else str(value)


def shown_items(raw: Sequence[object]) -> str:
    """The first five items of a written list, for explanations."""
    return "[" + ", ".join(str(v) for v in raw[:5]) + (", ..." if len(raw) > 5 else "") + "]"


def matcher_test(m: NamedList) -> Callable[[object], bool]:
    """A list's membership test for a signal value (prefix, regex, CIDR or exact value)."""
    if isinstance(m, PrefixList):
        return lambda v: m.match(str(v)) is not None
    if isinstance(m, RegexList):
        return lambda v: m.search(str(v)) is not None
    if isinstance(m, CidrList):
        return lambda v: m.contains(str(v))
    return m.contains
