"""What the counters read when Redis cannot answer, for each `redis.on_error` mode."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.velocity.counters import CounterCheck, CounterResult, HitOutcome, OnError
from gateway.velocity.local import LocalVelocity
from gateway.velocity.state import StateReads


def fallback_outcome(
    mode: OnError,
    local: LocalVelocity,
    checks: Sequence[CounterCheck],
    token: str,
    now: float,
    *,
    write: bool,
    reads: StateReads | None = None,
) -> HitOutcome:
    """ "local": per-process counters; "allow": every counter empty; "block": every counter full.

    Each result has one count per window of its check, as Redis would answer.
    """
    if mode == "local":
        outcome = local.hit_now(checks, token, now, write=write, reads=reads)
        return HitOutcome(outcome.results, fallback="local", state=outcome.state)
    if mode == "allow":
        return HitOutcome(
            tuple(CounterResult((0,) * len(c.windows), None) for c in checks), fallback="allow"
        )
    results: list[CounterResult | None] = []
    for check in checks:  # evaluation stops at the first final counter, as a refusal does
        results.append(CounterResult(tuple(w.limit for w in check.windows), 0))
        if check.final:
            break
    results += [None] * (len(checks) - len(results))
    return HitOutcome(tuple(results), fallback="block")
