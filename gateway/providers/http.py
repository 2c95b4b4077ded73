"""What every HTTP provider shares: one bounded exchange, failure classification, the retry loop.

An adapter subclasses `HttpProvider` and writes two small methods: `build(sms)` (the request) and
`accept(answer)` (the provider's message id, or `SendFailed`; a success status with an unreadable
body is `unreadable(...)`, i.e. sent). Timeouts per attempt are min(configured, time left before
the deadline); retries happen in `retry.with_retries` only, and only when the request cannot have
been accepted (no connection made, 5xx, 429): a read timeout or a connection lost mid-request is
not retried on the same provider.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from multidict import CIMultiDictProxy

from gateway.clock import Clock
from gateway.jsontypes import JSON
from gateway.logs import get_logger, mask_phones_in
from gateway.metrics import Metrics
from gateway.models import OutboundSms, SendResult
from gateway.providers.retry import (
    AUTH,
    BAD_RESPONSE,
    CONNECT,
    REJECTED,
    SERVER,
    THROTTLED,
    TIMEOUT,
    Random,
    RetryPolicy,
    SendFailed,
    Sleep,
    with_retries,
)
from gateway.settings.providers import ProviderBase, secure_or_loopback

log = get_logger("gateway.providers")

# The provider message id of a message a provider accepted with an answer we could not read.
UNKNOWN_MESSAGE_ID = "unknown"
# Longest provider error text kept (after masking) in errors, logs and events.
_MAX_ERROR_TEXT = 200


@dataclass(frozen=True)
class HttpCall:
    """One request to a provider. `form` is sent form-encoded, `json` as JSON (one of them)."""

    method: str
    url: str
    form: Mapping[str, str] | None = None
    json: JSON = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> JSON:
        """The body as JSON, or None when it is not JSON."""
        try:
            parsed: JSON = json.loads(self.body)
        except (ValueError, RecursionError):  # also a 4,300-digit integer, absurd nesting
            return None
        return parsed


def safe_text(text: object) -> str:
    """Provider-supplied text made safe for logs and events: numbers masked, length capped."""
    return mask_phones_in(str(text))[:_MAX_ERROR_TEXT]


def basic_auth(user: str, password: str) -> str:
    """An HTTP basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds when given as a number (HTTP-date forms are ignored)."""
    value = headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class HttpProvider(abc.ABC):
    """Base of the Twilio, Vonage and generic HTTP adapters."""

    def __init__(
        self,
        settings: ProviderBase,
        session: aiohttp.ClientSession,
        clock: Clock,
        metrics: Metrics,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: Random = random.random,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self._session = session
        self._clock = clock
        self._metrics = metrics
        self._sleep = sleep
        self._rng = rng
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
        )
        if not secure_or_loopback(settings.base_url):
            # Only reachable with allow_insecure_http: the opt-in is loud, once per start.
            log.warning(
                "provider credentials and messages go over plain http (allow_insecure_http)",
                provider=self.name,
                base_url=settings.base_url,
            )

    @abc.abstractmethod
    def build(self, sms: OutboundSms) -> HttpCall:
        """The request that asks the provider to send `sms`."""

    @abc.abstractmethod
    def accept(self, answer: HttpAnswer) -> str:
        """The provider's message id from an answer, or raise SendFailed."""

    async def send(self, sms: OutboundSms, deadline: float) -> SendResult:
        call = self.build(sms)

        async def attempt(budget: float) -> str:
            return self.accept(await self.exchange(call, budget))

        outcome = await with_retries(
            self.name,
            attempt,
            deadline=deadline,
            policy=self._policy,
            clock=self._clock,
            metrics=self._metrics,
            sleep=self._sleep,
            rng=self._rng,
        )
        return SendResult(
            provider=self.name,
            provider_message_id=outcome.provider_message_id,
            attempts=outcome.attempts,
            errors=outcome.errors,
        )

    async def exchange(self, call: HttpCall, budget: float) -> HttpAnswer:
        """One HTTP round trip within `budget` seconds; transport failures become SendFailed."""
        s = self.settings
        timeout = aiohttp.ClientTimeout(
            total=budget,
            sock_connect=min(s.connect_timeout_s, budget),
            sock_read=min(s.read_timeout_s, budget),
        )
        try:
            async with self._session.request(
                call.method,
                call.url,
                data=call.form,
                json=call.json,
                headers=call.headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return HttpAnswer(response.status, response.headers, body)
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            # No connection was made, so the request never left: safe to try again here.
            raise SendFailed(
                self.name, f"connection failed: {type(exc).__name__}", kind=CONNECT, retryable=True
            ) from None
        except TimeoutError:
            # The request may have reached the provider and been accepted: never resent here
            # (the router still fails over; the README, Providers > Retries, names the risk left).
            raise SendFailed(
                self.name, f"no answer within {budget:.2f}s", kind=TIMEOUT, retryable=False
            ) from None
        except aiohttp.ClientError as exc:
            # The connection broke once the request was (perhaps) sent: same reasoning.
            raise SendFailed(
                self.name, f"connection lost: {type(exc).__name__}", kind=CONNECT, retryable=False
            ) from None

    def unreadable(self, answer: HttpAnswer, why: str) -> str:
        """A success status whose body we cannot read: the provider probably accepted the message,
        so it counts as sent (never retried, never failed over) with an unknown message id."""
        self._metrics.provider_errors.labels(self.name, BAD_RESPONSE).inc()
        log.warning(
            "provider accepted the message but its answer is unreadable; treated as sent",
            provider=self.name,
            status=answer.status,
            kind=BAD_RESPONSE,
            error=safe_text(why),
        )
        return UNKNOWN_MESSAGE_ID

    def http_failure(self, answer: HttpAnswer, detail: str) -> SendFailed:
        """Classify a non-success HTTP answer: 429 and 5xx retryable, other 4xx refusals."""
        status = answer.status
        message = f"HTTP {status}: {safe_text(detail)}" if detail else f"HTTP {status}"
        if status == 429 or status >= 500:
            return SendFailed(
                self.name,
                message,
                kind=THROTTLED if status == 429 else SERVER,
                retryable=True,
                status=status,
                retry_after=retry_after_seconds(answer.headers),
            )
        kind = AUTH if status in (401, 403) else REJECTED
        return SendFailed(self.name, message, kind=kind, retryable=False, status=status)
