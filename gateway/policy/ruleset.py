"""A loaded rule set: its rules (conditions, velocity, action), default action and named lists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gateway.errors import Location
from gateway.logs import mask_phone
from gateway.policy.budget import Budget
from gateway.policy.conditions import Condition, DefinedList
from gateway.policy.signalnames import Getter

if TYPE_CHECKING:
    from gateway.policy.autoblockspec import AutoBlock
from gateway.policy.staged import state_signals
from gateway.policy.statereads import Learned, StatePlan
from gateway.signals import Signals
from gateway.velocity import Window, check_spec

ActionName = Literal["allow", "block", "drop", "tag"]
ACTIONS: tuple[ActionName, ...] = ("allow", "block", "drop", "tag")
# What rule ids and list names look like.
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class KeyPart:
    """One signal in a velocity key: its name as written, and how to read it."""

    name: str
    get: Getter

    def show(self, value: object) -> str:
        text = str(value)
        if self.name in ("recipient", "phone.e164"):
            return f"{self.name} {mask_phone(text)}"
        if "prefix" in self.name and text.isdigit() and len(text) > 8:
            # phone.prefix:N / national_prefix:N beyond 8 digits is (nearly) the whole number.
            return f"{self.name} {mask_phone(text).lstrip('+')}"
        return f"{self.name} {value}"


@dataclass(frozen=True)
class Velocity:
    key: tuple[KeyPart, ...]  # empty: one global counter
    windows: tuple[Window, ...]
    count: Literal["attempts", "sent"]
    # Per window: sized from verified history (`learned:`), else None (`max:`).
    learned: tuple[Learned | None, ...] = ()

    @property
    def longest(self) -> int:
        return max(w.seconds for w in self.windows)

    def values(self, s: Signals) -> list[str] | None:
        """The key's values for one request; None when a signal in it is unknown (rule skipped)."""
        out: list[str] = []
        for part in self.key:
            value = part.get(s)
            if value is None or value == "":
                return None
            out.append(str(value))
        return out

    def describe(self, values: list[str]) -> str:
        if not self.key:
            return "all traffic"
        return ", ".join(p.show(v) for p, v in zip(self.key, values, strict=True))


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    action: ActionName
    status: int
    shadow: bool
    tags: tuple[str, ...]
    condition: Condition | None
    velocity: Velocity | None
    location: Location
    budget: Budget | None = None  # a money ceiling (gateway/policy/budget.py)
    # A matching rule ends the evaluation (allow/block/drop, not in shadow mode).
    final: bool = field(init=False, default=False)
    longest_window: int = field(init=False, default=0)  # seconds, for velocity rules
    counter_spec: str = field(init=False, default="")  # the velocity script's parameters
    # Outcome signals its condition names: decided with the state read in the script.
    reads: tuple[str, ...] = field(init=False, default=())

    @property
    def mode(self) -> str:
        return "shadow" if self.shadow else "enforce"

    def __post_init__(self) -> None:
        # Precomputed for the hot path.
        object.__setattr__(self, "longest_window", self.velocity.longest if self.velocity else 0)
        object.__setattr__(self, "final", self.action != "tag" and not self.shadow)
        object.__setattr__(self, "reads", tuple(state_signals(self.condition)))
        if self.velocity is not None:
            spec = check_spec(
                self.velocity.windows, final=self.final, reserve=self.velocity.count == "sent"
            )
            object.__setattr__(self, "counter_spec", spec)


@dataclass(frozen=True)
class DefaultAction:
    action: Literal["allow", "block", "drop"] = "allow"
    status: int = 200
    location: Location | None = None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    default: DefaultAction
    lists: dict[str, DefinedList]
    files: tuple[str, ...]
    version: str  # hash of every file read (rules and lists)
    # What the decision script reads for the rules naming outcome signals (None: nothing).
    state: StatePlan | None = None
    # `auto_blocks:` of the rule files (the adaptive watcher applies them).
    auto_blocks: tuple[AutoBlock, ...] = ()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
