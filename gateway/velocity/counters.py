"""What a decision asks of the velocity store: counter checks in, per-window counts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.velocity.keys import CounterKeys
from gateway.velocity.state import StateReads

# What velocity rules do when Redis cannot answer (`redis.on_error`): per-process counters,
# every counter under its limit, or every counter full. `HitOutcome.fallback` names the mode used.
OnError = Literal["local", "allow", "block"]


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` events within `seconds`."""

    seconds: int
    limit: int
    # A limit learned from state (`gateway.velocity.state`): the 1-based index of the value read
    # before the counters; `limit` is then what applies when that value cannot be read.
    source: int = 0


class CounterCheck:
    """One counter a request touches: its key, windows, and whether a refusal stops evaluation.

    A plain slotted class: one is built per counter per request, a frozen dataclass costs 5x more.
    """

    __slots__ = ("final", "guard", "key", "longest", "reserve", "spec", "windows")

    def __init__(
        self,
        key: str,
        windows: tuple[Window, ...],
        final: bool,
        *,
        reserve: bool = False,
        longest: int = 0,
        spec: str = "",
        guard: str = "",
    ) -> None:
        self.key = key  # full Redis key, already hashed and tagged; "" for a guard alone
        self.windows = windows
        # True when exceeding it ends the evaluation (later counters are not touched).
        self.final = final
        # `count: sent`: the event is a reservation, taken back (in the same call) when a later
        # final counter refuses the request, or later by `release` when the message is not sent.
        self.reserve = reserve
        # The longest window in seconds.
        self.longest = longest or max((w.seconds for w in windows), default=0)
        # A condition over state read in the same call (`gateway.velocity.state`): the counter
        # applies only when it holds; without a key, a holding guard is itself the refusal.
        self.guard = guard
        # Its parameters as the script reads them (precomputed per rule by the engine).
        spec = spec or check_spec(windows, final=final, reserve=reserve, keyless=not key)
        self.spec = f"{spec}~{guard}" if guard else spec


def check_spec(
    windows: Sequence[Window], *, final: bool, reserve: bool, keyless: bool = False
) -> str:
    """`flags|longest_ms|ms_1|limit_1|...`: one string per counter, few arguments to pack.
    A learned limit is written `L<i>` (the i-th state value); flag `n`: a guard without counter."""
    flags = ("f" if final else "") + ("r" if reserve else "") + ("n" if keyless else "") or "-"
    parts = [flags, str(max((w.seconds for w in windows), default=0) * 1000)]
    for w in windows:
        parts += [str(w.seconds * 1000), f"L{w.source}" if w.source else str(w.limit)]
    return "|".join(parts)


@dataclass(frozen=True, slots=True)
class CounterResult:
    """What one counter held before this request: per-window counts, and which window is full."""

    counts: tuple[int, ...]
    over: int | None  # index of the first window at or above its limit; None when under all

    @property
    def exceeded(self) -> bool:
        return self.over is not None


@dataclass(frozen=True, slots=True)
class HitOutcome:
    """Results in the order of the checks; None for a counter not reached (an earlier refused)."""

    results: tuple[CounterResult | None, ...]
    fallback: OnError | None = None  # None when Redis answered; else the `on_error` mode used
    state: tuple[float | None, ...] = ()  # the values of `StateReads` (None: unknown)


class VelocityStore(Protocol):
    keys: CounterKeys

    async def hit(
        self,
        checks: Sequence[CounterCheck],
        token: str,
        now: float,
        *,
        reads: StateReads | None = None,
    ) -> HitOutcome:
        """Check every counter in order and add `token` to those under all their limits; read
        `reads` first, in the same call."""
        ...

    async def peek(
        self, checks: Sequence[CounterCheck], now: float, *, reads: StateReads | None = None
    ) -> HitOutcome:
        """Read the counters without writing them (`rules explain`)."""
        ...

    async def release(self, keys: Sequence[str], token: str) -> None:
        """Take a reservation back (a `count: sent` rule whose message was not sent)."""
        ...

    def release_later(self, keys: Sequence[str], token: str) -> None:
        """`release` without waiting for it (batched with the next Redis call)."""
        ...
