"""The PIN rules in one place: enroll, change, verify, with limits, hashing and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.clock import Clock
from gateway.errors import SmsGuardError
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.pin.hashing import PinHasher
from gateway.pin.policy import PinPolicy, Refusal
from gateway.pin.store import PinStore

log = get_logger("gateway.pin")

Outcome = Literal["ok", "wrong", "locked", "wait", "ip_limited"]


@dataclass(frozen=True)
class VerifyResult:
    outcome: Outcome
    # Attempts left before the lock (after a wrong PIN); seconds to wait (wait, ip_limited).
    remaining: int = 0
    wait_s: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class CompletionSink(Protocol):
    def completed(self, e164: str, *, source: str) -> None:
        """A login finished with the code sent to `e164` (completion feedback)."""
        ...


class AlreadyEnrolled(SmsGuardError):
    """The user has a PIN already; verify it (or change it with the old one)."""


class PinService:
    def __init__(
        self,
        *,
        store: PinStore,
        hasher: PinHasher,
        policy: PinPolicy,
        clock: Clock,
        metrics: Metrics | None = None,
        feedback: CompletionSink | None = None,
    ) -> None:
        self.feedback = feedback
        self.store = store
        self.hasher = hasher
        self.policy = policy
        self.clock = clock
        self.metrics = metrics

    async def verify(
        self, sub: str, pin: str, ip: str, *, phone: str | None = None
    ) -> VerifyResult:
        """Check a PIN under the attempt limits. A missing PIN costs the same and fails."""
        attempt = await self.store.begin_attempt(sub, ip, self.clock.time())
        if attempt.status != "go":
            result = VerifyResult(attempt.status, wait_s=_ceil(attempt.wait_s))
            return self._done(sub, ip, result)
        matched = await self.hasher.verify(attempt.stored, pin)
        if matched and attempt.stored is not None:
            await self.store.succeed(sub, ip)
            if self.hasher.needs_rehash(attempt.stored):
                await self.store.replace_hash(sub, await self.hasher.hash(pin), self.clock.time())
            self._completed(phone)
            return self._done(sub, ip, VerifyResult("ok"))
        if attempt.failures >= self.store.max_failures:
            return self._done(sub, ip, VerifyResult("locked"))
        delay = min(self.store.delay_base_s * 2 ** (attempt.failures - 1), self.store.delay_max_s)
        remaining = self.store.max_failures - attempt.failures
        return self._done(sub, ip, VerifyResult("wrong", remaining=remaining, wait_s=_ceil(delay)))

    async def enroll(self, sub: str, pin: str, *, phone: str | None = None) -> Refusal | None:
        """Store a first PIN if the policy accepts it; raise AlreadyEnrolled if one exists."""
        refusal = self.policy.check(pin)
        if refusal is not None:
            return refusal
        if await self.store.has_pin(sub):
            raise AlreadyEnrolled(sub)
        if not await self.store.enroll(sub, await self.hasher.hash(pin), self.clock.time()):
            raise AlreadyEnrolled(sub)
        log.info("pin enrolled", user=sub)
        self._completed(phone)
        return None

    async def change(self, sub: str, old_pin: str, new_pin: str, ip: str) -> VerifyResult | Refusal:
        """Replace the PIN: the new one must pass the policy and the old one must verify."""
        refusal = self.policy.check(new_pin)
        if refusal is None and new_pin == old_pin:
            refusal = Refusal("same_as_old")
        if refusal is not None:
            return refusal
        result = await self.verify(sub, old_pin, ip)
        if result.ok:
            await self.store.replace_hash(sub, await self.hasher.hash(new_pin), self.clock.time())
            log.info("pin changed", user=sub)
        return result

    def _completed(self, phone: str | None) -> None:
        """The PIN step ends a login: the code sent to the phone (when the session names it) was
        used. Queued, never awaited: feedback must not slow the PIN page."""
        if phone and self.feedback is not None:
            self.feedback.completed(phone, source="pin")

    def _done(self, sub: str, ip: str, result: VerifyResult) -> VerifyResult:
        if self.metrics is not None:
            self.metrics.pin_attempts.labels(result=result.outcome).inc()
        level = log.info if result.ok else log.warning
        level(
            "pin verify", user=sub, client_ip=ip, outcome=result.outcome, remaining=result.remaining
        )
        return result


def _ceil(seconds: float) -> int:
    whole = int(seconds)
    return whole + (1 if seconds > whole else 0)
