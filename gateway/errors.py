"""Typed errors, each carrying where it happened. Every error the package raises is in this tree.

SmsGuardError
├── ConfigError              a settings or rules file is wrong: every file:line:col problem
├── IntakeError              a request to POST /sms cannot be accepted (HTTP status, field)
│   ├── AuthError            the caller is not Auth0 (401)
│   └── ClientGone           the client hung up before its request was read (499)
├── ProviderError            an SMS provider refused or failed (provider name, retryable?)
│   ├── SendFailed           one attempt on one provider failed          (providers/retry.py)
│   └── AllProvidersFailed   every provider on the route failed (502)
├── InputError               a value given by an operator or a caller cannot be used (a ValueError)
│   ├── FilterError          a dashboard event filter (bad CIDR, time)  (dashboard/eventsearch.py)
│   ├── ParamError           a Conversion page window or range        (dashboard/convfigures.py)
│   ├── RemoteRefused        a simulation target that is not this machine   (simulate/runner.py)
│   ├── BadItem              one item of a named list                   (listitems.py)
│   ├── NotACountry          not an ISO 3166 alpha-2 country code        (countries.py)
│   ├── UnsafeRegex          an operator regex that could backtrack forever (regexes.py)
│   └── _Bad                 a rule value of the wrong kind       (policy/conditions/values.py)
├── OverrideError            an override cannot be created as asked (field) (overrides/targets.py)
├── TokenError               a PIN-step or API token is not ours or expired  (pin/tokens.py)
├── AlreadyEnrolled          the user has a PIN already                      (pin/service.py)
├── _Bad                     a PIN JSON API request cannot be served        (pin/api.py)
├── SimulateError            the simulator's own inputs are wrong           (simulate/__init__.py)
├── AlertDeliveryError       an alert receiver did not take a message (notifier, retryable?)
├── BackfillError            the Auth0 Management API refused or failed  (feedback/backfill.py)
├── StoreUnavailable         the feedback store failed or was too slow    (feedback/ingest.py)
└── RedisNotInstalled        no redis-server on PATH (a RuntimeError)       (redisproc.py)

The classes defined outside this module keep their home beside the code that raises them and
name their node here as their base; tests/test_errors.py checks no class is left outside.
"""

from __future__ import annotations

from dataclasses import dataclass


class SmsGuardError(Exception):
    """Base of every error the gateway raises on purpose."""


@dataclass(frozen=True)
class Location:
    """Where in a source file something is: 1-based line and column; 0 when unknown."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a source file."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigError(SmsGuardError):
    """A settings or rule source is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[Problem]]]:
        # Rebuilt from its problems when it crosses a process boundary (big list files).
        return (ConfigError, (self.problems,))


class IntakeError(SmsGuardError):
    """A request that cannot be accepted: `status` is the HTTP answer, `field` names the culprit."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def as_json(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return body


class AuthError(IntakeError):
    """The bearer token is missing, malformed, expired or not signed by our Auth0 tenant."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message, field="Authorization")


class ClientGone(IntakeError):
    """The client hung up before its whole request arrived; 499 (nginx's "client closed request")
    is logged, and nobody receives an answer."""

    def __init__(self) -> None:
        super().__init__(499, "the client closed the connection before sending the whole body")


class ProviderError(SmsGuardError):
    """A provider did not accept a message. `retryable` says whether trying again may help."""

    def __init__(
        self, provider: str, message: str, *, retryable: bool, status: int | None = None
    ) -> None:
        self.provider = provider
        self.message = message
        self.retryable = retryable
        self.status = status
        super().__init__(f"{provider}: {message}")


class InputError(SmsGuardError, ValueError):
    """A value an operator or a caller gave cannot be used; still a ValueError for its callers."""


class AllProvidersFailed(ProviderError):
    """Every provider on the route failed or was unavailable."""

    def __init__(self, errors: list[ProviderError]) -> None:
        self.errors = errors
        summary = "; ".join(str(e) for e in errors) or "no provider available"
        super().__init__("router", summary, retryable=False)


class AlertDeliveryError(SmsGuardError):
    """An alert receiver did not accept a message. `retryable`: a later try may succeed."""

    def __init__(self, notifier: str, message: str, *, retryable: bool) -> None:
        self.notifier = notifier
        self.message = message
        self.retryable = retryable
        super().__init__(f"{notifier}: {message}")
