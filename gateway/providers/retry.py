"""The one retry loop every provider shares: jittered exponential backoff, bounded by a deadline.

An adapter supplies one `attempt(budget_s)` coroutine; it returns the provider's message id or
raises `SendFailed` saying what went wrong (`kind`), whether trying again may help (`retryable`)
and, for 429, how long the provider asked us to wait (`retry_after`). The loop retries retryable
failures while attempts and time remain, and raises the last failure when it gives up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.clock import Clock
from gateway.errors import ProviderError
from gateway.logs import get_logger
from gateway.metrics import Metrics

log = get_logger("gateway.providers")

Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]

# Failure kinds (metrics label `kind`, log field). "rejected" is about the message and "deadline"
# about the caller's time budget, not the provider's health: neither counts against the breaker.
CONNECT = "connect"
TIMEOUT = "timeout"
SERVER = "server_error"
THROTTLED = "throttled"
AUTH = "auth"
REJECTED = "rejected"
BAD_RESPONSE = "bad_response"
DEADLINE = "deadline"
# Kinds that say nothing about the provider's health (see SendFailed.counts_against_provider).
NEUTRAL_KINDS = frozenset({REJECTED, DEADLINE})


class SendFailed(ProviderError):
    """One provider attempt failed. `message` is safe to log: numbers masked, no body, no secret.

    `retryable` means "may be tried again on the same provider": only when the provider cannot
    have accepted the message (connection not made, 5xx, 429). The router fails over to the next
    provider on every failure, retryable or not.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, message, retryable=retryable, status=status)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def counts_against_provider(self) -> bool:
        """True when the failure says the provider is unhealthy (not that one message was bad,
        nor that the caller's deadline left no time to try)."""
        return self.kind not in NEUTRAL_KINDS


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_base_s: float = 0.2
    backoff_max_s: float = 2.0
    # No attempt is started with less time than this left before the deadline.
    min_attempt_s: float = 0.05

    def backoff(self, failed_attempts: int, rng: Random) -> float:
        """Delay after the n-th failed attempt: base * 2^(n-1), capped, jittered (x0.5..1)."""
        raw = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (failed_attempts - 1))
        return raw * (0.5 + rng() / 2)


@dataclass(frozen=True)
class Outcome:
    provider_message_id: str
    attempts: int
    errors: tuple[str, ...]


async def with_retries(
    provider: str,
    attempt: Callable[[float], Awaitable[str]],
    *,
    deadline: float,
    policy: RetryPolicy,
    clock: Clock,
    metrics: Metrics,
    sleep: Sleep = asyncio.sleep,
    rng: Random = random.random,
) -> Outcome:
    """Run `attempt(budget_s)` until it succeeds, fails for good, or attempts/time run out."""
    errors: list[str] = []
    attempts = 0
    last: SendFailed | None = None
    while True:
        budget = deadline - clock.monotonic()
        if budget < policy.min_attempt_s:
            raise last or SendFailed(
                provider, "no time left before the deadline", kind=DEADLINE, retryable=True
            )
        attempts += 1
        started = clock.monotonic()
        try:
            provider_message_id = await attempt(budget)
        except SendFailed as exc:
            last = exc
            metrics.provider_latency.labels(provider, exc.kind).observe(clock.monotonic() - started)
            metrics.provider_errors.labels(provider, exc.kind).inc()
            errors.append(str(exc))
            log.warning(
                "provider attempt failed",
                provider=provider,
                attempt=attempts,
                kind=exc.kind,
                status=exc.status,
                retryable=exc.retryable,
                error=exc.message,
            )
            if not exc.retryable or attempts >= policy.max_attempts:
                raise
            delay = policy.backoff(attempts, rng)
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if clock.monotonic() + delay + policy.min_attempt_s > deadline:
                # The wait (Retry-After included) does not fit: give up, let the router fail over.
                raise
            await sleep(delay)
            continue
        metrics.provider_latency.labels(provider, "ok").observe(clock.monotonic() - started)
        return Outcome(provider_message_id, attempts, tuple(errors))
