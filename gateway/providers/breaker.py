"""A circuit breaker per provider: stop calling a provider that keeps failing, try it again later.

    closed ──N consecutive failures──> open ──reset_after_s──> half-open ──trial ok──> closed
                                        ^                          │
                                        └───────trial failed───────┘

Only failures that say the provider is unhealthy count (timeouts, connection errors, 5xx, 429,
bad credentials); a refused message (an invalid number) does not, so an attacker sending to bad
numbers cannot switch a provider off. Time comes from the injected Clock.
"""

from __future__ import annotations

import enum

from gateway.alerts.model import Alert, AlertSink, Severity
from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.settings.providers import BreakerSettings


class CircuitState(enum.IntEnum):
    """Values exported as smsguard_circuit_state."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(
        self,
        provider: str,
        settings: BreakerSettings,
        clock: Clock,
        metrics: Metrics,
        alerts: AlertSink | None = None,
    ) -> None:
        self.provider = provider
        self._alerts = alerts
        self._threshold = settings.failure_threshold
        self._reset_after = settings.reset_after_s
        self._clock = clock
        self._metrics = metrics
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._export()

    @property
    def state(self) -> CircuitState:
        """The state now: an open circuit whose wait is over reads as half-open."""
        if self._state is CircuitState.OPEN and self._wait_over():
            return CircuitState.HALF_OPEN
        return self._state

    def available(self) -> bool:
        """Would `allow()` let a call through now? (Does not take the half-open trial.)"""
        state = self.state
        return state is CircuitState.CLOSED or (
            state is CircuitState.HALF_OPEN and not self._trial_running
        )

    def allow(self) -> bool:
        """May a call go to this provider now? In half-open, only one trial call at a time."""
        if self._state is CircuitState.OPEN and self._wait_over():
            self._set(CircuitState.HALF_OPEN)
            self._trial_running = False
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._trial_running = False
        self._set(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._trial_running = False
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock.monotonic()
            self._set(CircuitState.OPEN)

    def record_neutral(self) -> None:
        """The provider answered but refused this one message: health unknown, free the trial."""
        self._trial_running = False

    def _wait_over(self) -> bool:
        return self._clock.monotonic() - self._opened_at >= self._reset_after

    def _set(self, state: CircuitState) -> None:
        before, self._state = self._state, state
        self._export()
        if self._alerts is None or before is state:
            return
        key = f"circuit:{self.provider}"
        if state is CircuitState.OPEN and before is CircuitState.CLOSED:
            self._alerts.fire(
                Alert(
                    key,
                    Severity.WARNING,
                    f"Circuit of provider {self.provider} opened",
                    f"{self._failures} failures in a row; messages fail over to the next provider"
                    f" of each route; next try in {self._reset_after:g} s",
                    self._clock.time(),
                    "/dashboard",
                    {"provider": self.provider, "failures": self._failures},
                )
            )
        elif state is CircuitState.CLOSED:
            self._alerts.clear(key)

    def _export(self) -> None:
        self._metrics.circuit_state.labels(self.provider).set(int(self._state))
