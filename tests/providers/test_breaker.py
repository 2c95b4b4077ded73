"""The circuit breaker on its own, driven by a FakeClock."""

from __future__ import annotations

from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.providers.breaker import CircuitBreaker, CircuitState
from gateway.settings import BreakerSettings


def breaker(clock: FakeClock, metrics: Metrics, threshold: int = 3) -> CircuitBreaker:
    settings = BreakerSettings(failure_threshold=threshold, reset_after_s=30)
    return CircuitBreaker("p", settings, clock, metrics)


def test_opens_after_threshold_consecutive_failures() -> None:
    """N consecutive failures open the circuit; calls are then refused."""
    b = breaker(FakeClock(), Metrics())
    for _ in range(3):
        assert b.allow()
        b.record_failure()
    assert (b.state, b.allow()) == (CircuitState.OPEN, False)


def test_a_success_resets_the_count() -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    b = breaker(FakeClock(), Metrics())
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state is CircuitState.CLOSED


def test_half_open_after_reset_lets_one_trial_through() -> None:
    """Once reset_after_s has passed, exactly one trial call is allowed at a time."""
    clock = FakeClock()
    b = breaker(clock, Metrics(), threshold=1)
    b.record_failure()
    clock.advance(30)
    assert b.state is CircuitState.HALF_OPEN
    assert (b.allow(), b.allow()) == (True, False)


def test_successful_trial_closes_the_circuit() -> None:
    """A successful half-open trial closes the circuit."""
    clock = FakeClock()
    b = breaker(clock, Metrics(), threshold=1)
    b.record_failure()
    clock.advance(30)
    b.allow()
    b.record_success()
    assert (b.state, b.allow()) == (CircuitState.CLOSED, True)


def test_failed_trial_opens_the_circuit_for_another_wait() -> None:
    """A failed trial reopens the circuit; the next trial waits reset_after_s again."""
    clock = FakeClock()
    b = breaker(clock, Metrics(), threshold=1)
    b.record_failure()
    clock.advance(30)
    b.allow()
    b.record_failure()
    clock.advance(29)
    assert (b.state, b.allow()) == (CircuitState.OPEN, False)


def test_neutral_outcome_frees_the_trial() -> None:
    """A trial that ended in a refused message lets the next call try again."""
    clock = FakeClock()
    b = breaker(clock, Metrics(), threshold=1)
    b.record_failure()
    clock.advance(30)
    b.allow()
    b.record_neutral()
    assert b.allow()


def test_state_is_exported_as_a_gauge() -> None:
    """smsguard_circuit_state shows 2 while open and 0 once closed again."""
    clock, metrics = FakeClock(), Metrics()
    b = breaker(clock, metrics, threshold=1)
    b.record_failure()
    open_value = metrics.circuit_state.labels("p")._value.get()
    clock.advance(30)
    b.allow()
    b.record_success()
    assert (open_value, metrics.circuit_state.labels("p")._value.get()) == (2, 0)
