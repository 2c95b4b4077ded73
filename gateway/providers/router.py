"""The provider router: which providers a message may use, in which order, within its deadline.

`routes` maps an ISO country code to provider names tried in order; "default" covers every other
country (and messages whose country is unknown). Without a matching route or "default", every
provider is tried in settings order. Providers whose circuit is open are skipped; any
ProviderError fails over to the next one; when none is left, AllProvidersFailed.

Time: each provider gets a slice of what is left so that a hanging provider cannot eat the whole
deadline. With k providers still to try, the next one may use half of the remaining time (the
last one all of it): two providers and 10 s give the first 5 s and the second whatever is left.
Everything ends DEADLINE_MARGIN_S before the deadline, so the caller gets an answer in time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.clock import Clock
from gateway.errors import AllProvidersFailed, ProviderError
from gateway.logs import get_logger
from gateway.models import OutboundSms, SendResult
from gateway.providers.base import Provider
from gateway.providers.breaker import CircuitBreaker, CircuitState
from gateway.providers.retry import SendFailed

log = get_logger("gateway.providers")

# Providers must be done this long before the caller's deadline, so that the answer (sent or
# failed) reaches the caller before any timeout of its own at the deadline fires.
DEADLINE_MARGIN_S = 0.05


class ProviderRouter:
    def __init__(
        self,
        providers: Sequence[Provider],
        breakers: Mapping[str, CircuitBreaker],
        routes: Mapping[str, Sequence[str]],
        clock: Clock,
    ) -> None:
        self.providers = {p.name: p for p in providers}
        self.breakers = dict(breakers)
        self._order = [p.name for p in providers]
        self._routes = {k: list(v) for k, v in routes.items()}
        self._clock = clock

    def route_for(self, country: str | None) -> list[str]:
        """Provider names to try, in order, for a recipient in `country`."""
        if country and country.upper() in self._routes:
            return self._routes[country.upper()]
        return self._routes.get("default", self._order)

    def states(self) -> dict[str, CircuitState]:
        return {name: b.state for name, b in self.breakers.items()}

    async def send(self, sms: OutboundSms, deadline: float) -> SendResult:
        """Send `sms` through the first provider on its route that accepts it before `deadline`.

        Raises AllProvidersFailed (with every provider's error) when none did.
        """
        route = self.route_for(sms.country)
        deadline -= DEADLINE_MARGIN_S
        errors: list[ProviderError] = []
        skipped: list[str] = []
        attempts = 0
        for index, name in enumerate(route):
            breaker = self.breakers[name]
            if not breaker.allow():
                skipped.append(name)
                continue
            now = self._clock.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                breaker.record_neutral()
                break
            later = sum(1 for n in route[index + 1 :] if self.breakers[n].available())
            slice_deadline = deadline if later == 0 else now + remaining / 2
            try:
                result = await self.providers[name].send(sms, slice_deadline)
            except ProviderError as exc:
                attempts += 1
                errors.append(exc)
                if isinstance(exc, SendFailed) and not exc.counts_against_provider:
                    breaker.record_neutral()
                else:
                    breaker.record_failure()
                log.warning(
                    "provider failed, failing over" if later else "provider failed",
                    provider=name,
                    message_id=sms.message_id,
                    error=str(exc),
                )
                continue
            except BaseException:
                # A bug or a cancelled request says nothing about the provider; free the trial.
                breaker.record_neutral()
                raise
            breaker.record_success()
            return SendResult(
                provider=result.provider,
                provider_message_id=result.provider_message_id,
                status=result.status,
                attempts=attempts + result.attempts,
                errors=tuple(str(e) for e in errors) + result.errors,
            )
        if skipped:
            errors.append(
                ProviderError("router", f"circuit open: {', '.join(skipped)}", retryable=True)
            )
        raise AllProvidersFailed(errors)
