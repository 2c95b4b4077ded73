"""In-process counters: `rules test`, and the fallback when Redis is down (same semantics)."""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict, deque
from collections.abc import Sequence

from gateway.spend.counters import LocalBudgets, is_budget_handle
from gateway.velocity.counters import CounterCheck, CounterResult, HitOutcome
from gateway.velocity.keys import CounterKeys
from gateway.velocity.state import StateReads, guard_holds, run_ops


class _Log:
    __slots__ = ("times", "tokens")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.tokens: deque[str] = deque()


class LocalVelocity:
    """Sliding-window logs in a dict bounded by LRU eviction; same semantics as the Lua script."""

    def __init__(self, max_keys: int = 100_000, keys: CounterKeys | None = None) -> None:
        self.max_keys = max_keys
        self.keys = keys or CounterKeys(b"")
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        self.budgets = LocalBudgets(max_keys)

    def __len__(self) -> int:
        return len(self._logs)

    def hit_now(
        self,
        checks: Sequence[CounterCheck],
        token: str,
        now: float,
        *,
        write: bool = True,
        reads: StateReads | None = None,
    ) -> HitOutcome:
        results: list[CounterResult | None] = [None] * len(checks)
        reserved: list[str] = []
        # Nothing to read here: the state is what the caller gave (a rule test), else unknown.
        state = run_ops(reads.ops, reads.given) if reads is not None else []
        for i, check in enumerate(checks):
            if check.guard and not guard_holds(check.guard, state):
                results[i] = CounterResult((), None)
                continue
            if not check.key:  # a guard alone: it holds, the rule matched
                results[i] = CounterResult((), 0)
                if write and check.final:
                    self.release_now(reserved, token)
                    break
                continue
            if check.spec[0] == "b":  # a money budget
                full, spent, handle = self.budgets.step(check.key, check.spec, write=write)
                results[i] = CounterResult((spent,), 0 if full else None)
                if write and handle is not None:
                    reserved.append(handle)
                elif write and full and check.final:
                    self.release_now(reserved, token)  # refused: reservations are void
                    break
                continue
            entry = self._logs.get(check.key)
            longest = check.longest
            if entry is not None:
                self._logs.move_to_end(check.key)
                if write:
                    while entry.times and entry.times[0] <= now - longest:
                        entry.times.popleft()
                        entry.tokens.popleft()
            counts: list[int] = []
            over: int | None = None
            for w_index, window in enumerate(check.windows):
                count = 0 if entry is None else _count_since(entry.times, now - window.seconds)
                counts.append(count)
                limit = window.limit
                if window.source and state and state[window.source - 1] is not None:
                    limit = int(state[window.source - 1] or 0)
                if over is None and count >= limit:
                    over = w_index
            results[i] = CounterResult(tuple(counts), over)
            if not write:
                continue
            if over is None:
                if entry is None:
                    entry = self._logs[check.key] = _Log()
                    if len(self._logs) > self.max_keys:
                        self._logs.popitem(last=False)
                entry.times.append(now)
                entry.tokens.append(token)
                if check.reserve:
                    reserved.append(check.key)
            elif check.final:
                self.release_now(reserved, token)  # refused: reservations are void
                break
        return HitOutcome(tuple(results), state=tuple(state))

    def preload(self, key: str, count: int, now: float) -> None:
        """Record `count` events at `now` on one counter (`rules test` counter state)."""
        entry = self._logs.setdefault(key, _Log())
        for i in range(count):
            entry.times.append(now)
            entry.tokens.append(f"preload-{i}")

    def release_now(self, keys: Sequence[str], token: str) -> None:
        for key in keys:
            if is_budget_handle(key):
                self.budgets.release(key)
                continue
            entry = self._logs.get(key)
            if entry is None:
                continue
            for i in range(len(entry.tokens) - 1, -1, -1):
                if entry.tokens[i] == token:
                    del entry.tokens[i]
                    del entry.times[i]
                    break

    async def hit(
        self,
        checks: Sequence[CounterCheck],
        token: str,
        now: float,
        *,
        reads: StateReads | None = None,
    ) -> HitOutcome:
        return self.hit_now(checks, token, now, reads=reads)

    async def peek(
        self, checks: Sequence[CounterCheck], now: float, *, reads: StateReads | None = None
    ) -> HitOutcome:
        return self.hit_now(checks, "", now, write=False, reads=reads)

    async def release(self, keys: Sequence[str], token: str) -> None:
        self.release_now(keys, token)

    def release_later(self, keys: Sequence[str], token: str) -> None:
        self.release_now(keys, token)


def _count_since(times: deque[float], since: float) -> int:
    """Events strictly after `since` in a time-ordered deque."""
    # deques index in O(n) in the middle; windows are small (bounded by the limit) so this is cheap.
    return len(times) - bisect_right(times, since)
