"""Settings: one YAML file, every key overridable by environment, secrets from env or files.

Precedence, lowest first: embedded defaults (the models below), the YAML file, environment variables
`SMSGUARD_<SECTION>__<KEY>` (list items by index: `SMSGUARD_PROVIDERS__0__AUTH_TOKEN`), and the
conventional `REDIS_URL`. A secret is written as a plain string, `{env: NAME}` or `{file: PATH}`.
Every problem is reported as `file:line:col: key: message`, all at once.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from gateway.b64 import b64url_decode
from gateway.errors import ConfigError, Location, Problem
from gateway.yamlsrc import Locator, load_yaml_file

ENV_PREFIX = "SMSGUARD_"


def _resolve_secret(value: Any, info: ValidationInfo) -> Any:
    """Turn `{env: NAME}` / `{file: PATH}` into the secret's text; leave the rest to pydantic."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, ref),) = value.items()
        if kind == "env":
            environ = (info.context or {}).get("environ", os.environ)
            if str(ref) not in environ:
                raise ValueError(f"environment variable {ref} is not set")
            return environ[str(ref)]
        if kind == "file":
            try:
                return Path(str(ref)).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read secret file {ref}: {exc.strerror}") from exc
        raise ValueError(
            f"a secret is a string, {{env: NAME}} or {{file: PATH}}, not {{{kind}: ...}}"
        )
    return value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    # The URL browsers and Auth0 use to reach this gateway (PIN page links, printed by `make run`).
    public_url: str | None = None
    # Seconds in-flight requests get to finish on SIGTERM before the process exits.
    shutdown_timeout_s: float = Field(15.0, gt=0)


class RedisSettings(Section):
    url: str = "redis://127.0.0.1:6379/0"
    # Per-call budget for Redis work on the request path (velocity counters, overrides).
    call_timeout_ms: int = Field(50, ge=1, le=10_000)
    # What velocity rules do when Redis is unreachable or slow: local per-process counters,
    # allow the message, or block it.
    on_error: Literal["local", "allow", "block"] = "local"


class Auth0Settings(Section):
    gateway_secret: Secret | None = None
    audience: str = "urn:MySmsGateway"
    subject: str = "urn:Auth0"
    secret_base64_encoded: bool = False
    # Accepted clock skew for `iat`/`exp`/`nbf` when Auth0 includes them.
    leeway_s: int = Field(30, ge=0, le=600)
    # The tenant's domain ("acme.eu.auth0.com"): issuer of PIN-step and access tokens.
    tenant_domain: str | None = None

    @model_validator(mode="after")
    def _secret_decodes(self) -> Auth0Settings:
        if self.secret_base64_encoded and self.gateway_secret is not None:
            try:
                b64url_decode(self.gateway_secret.get_secret_value())
            except ValueError:
                raise ValueError(
                    "gateway_secret is not base64url, but secret_base64_encoded is true"
                ) from None
        return self


class IntakeSettings(Section):
    # Answer Auth0 within this many seconds (Auth0 itself gives up at 30).
    deadline_s: float = Field(10.0, gt=0, le=29)
    max_body_bytes: int = Field(8192, ge=256, le=1_048_576)
    # Region assumed for numbers written without a leading "+"; None refuses them.
    default_region: str | None = None

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        import phonenumbers

        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region phonenumbers knows (e.g. GB, US)")
        return region


class RulesSettings(Section):
    # The rule set: a folder of *.yaml rule files (read in file-name order), or one file.
    path: Path = Path("rules")
    # Reload automatically when a file under `path` changes (SIGHUP always reloads).
    watch: bool = True
    # Quiet time after the last change before a reload (an editor saves in several writes).
    watch_debounce_ms: int = Field(300, ge=10, le=60_000)
    # Secret for the keyed hash in velocity counter names in Redis (numbers and IPs are not
    # recoverable from key names). Same value on every instance. Unset: a random secret is stored
    # in Redis on first start (SET NX `{sgv}:counter-hash-key`) and read by every instance.
    counter_hash_key: Secret | None = None


class GeoipSettings(Section):
    """MaxMind databases (see docs: geoipupdate). Each optional; a missing one makes its signals
    "unknown". A configured path that does not exist stops startup."""

    # GeoLite2-Country / GeoIP2-Country (or a City database): ip.country.
    country_db: Path | None = None
    # GeoLite2-ASN (or GeoIP2-ISP): ip.asn, ip.org.
    asn_db: Path | None = None
    # GeoIP2-Anonymous-IP: ip.anonymous, ip.hosting, ip.tor, ip.proxy.
    anonymous_db: Path | None = None
    # Addresses whose lookups are kept in memory (LRU).
    cache_size: int = Field(10_000, ge=0, le=10_000_000)
    # Seconds between checks for database files replaced by geoipupdate (reopened in place);
    # 0 turns the check off (restart to pick up new files).
    reload_check_s: float = Field(300.0, ge=0)


class SignalsSettings(Section):
    """Signals computed per message (owned by gateway/signals.py)."""

    # The SMS texts Auth0 is configured to send (the connection's `template`); `@@password@@`
    # (or `{{ code }}`) stands for the code's digits. body.template_ok is true when one matches.
    expected_templates: list[str] = ["Your verification code is: @@password@@"]

    @field_validator("expected_templates")
    @classmethod
    def _templates_hold_the_code(cls, templates: list[str]) -> list[str]:
        for i, template in enumerate(templates):
            if not re.search(r"@@password@@|\{\{\s*(code|password)\s*\}\}", template):
                raise ValueError(
                    f"template {i} has no @@password@@ (or {{{{ code }}}}) where the code goes"
                )
        return templates


class BreakerSettings(Section):
    # Consecutive provider failures (timeouts, connection errors, 5xx, 429, bad credentials) that
    # open the circuit; a refused message (bad number, 4xx) does not count.
    failure_threshold: int = Field(default=5, ge=1)
    # Seconds an open circuit stays open before one trial message is let through (half-open).
    reset_after_s: float = Field(default=30.0, gt=0)


class ProviderBase(Section):
    # Unique name, used in routes, metrics, logs and events.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    # Scheme and host of the provider's API (each type has its real API as default).
    base_url: str = ""
    # Per attempt; both are also capped by the time left before the request's deadline.
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=8.0, gt=0)
    # Attempts on this provider (connection errors, timeouts, 5xx, 429) before failing over.
    max_attempts: int = Field(default=3, ge=1, le=10)
    # Backoff before attempt n+1: base * 2^(n-1), capped, with jitter (x0.5..1).
    backoff_base_s: float = Field(default=0.2, gt=0, le=10)
    backoff_max_s: float = Field(default=2.0, gt=0, le=60)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class TwilioSettings(ProviderBase):
    type: Literal["twilio"]
    base_url: str = "https://api.twilio.com"
    # Real SIDs are AC + 32 hex digits; only the prefix is checked so test accounts still load.
    account_sid: str = Field(pattern=r"^AC")
    auth_token: Secret
    # Sender: a Twilio number / alphanumeric id, or a Messaging Service (at least one of them).
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    # Where Twilio posts delivery status; default: <server.public_url>/providers/twilio/status.
    # Omitted (no delivery status) when neither is set.
    status_callback: str | None = Field(default=None, pattern=r"^https?://")

    @model_validator(mode="after")
    def _sender(self) -> TwilioSettings:
        if not (self.from_ or self.messaging_service_sid):
            raise ValueError("set `from` or `messaging_service_sid`")
        return self


class VonageSettings(ProviderBase):
    type: Literal["vonage"]
    base_url: str = "https://rest.nexmo.com"
    api_key: str
    api_secret: Secret
    # Sender id: a Vonage number (E.164) or an alphanumeric name where the country allows it.
    from_: str = Field(alias="from")


_TEMPLATE_FIELDS = frozenset({"to", "body", "message_id", "country", "from"})


class HttpProviderSettings(ProviderBase):
    type: Literal["http"]
    # The send endpoint is `base_url` + `path` (base_url is required for this type).
    path: str = "/"
    method: Literal["POST", "PUT"] = "POST"
    # Extra request headers (e.g. Authorization); values are secrets ({env: NAME} works).
    headers: dict[str, Secret] = {}
    # JSON body; string values (at any depth) may use {to}, {body}, {message_id}, {country}, {from}.
    body_template: dict[str, Any] = {"to": "{to}", "text": "{body}"}
    # Value of {from}.
    from_: str | None = Field(default=None, alias="from")
    # HTTP statuses that mean "accepted"; 429 and 5xx are retried, anything else is a refusal.
    success_status: list[int] = [200, 201, 202]
    # Dotted path to the provider's message id in its JSON answer ("data.id", "messages.0.id").
    message_id_field: str | None = None

    @model_validator(mode="after")
    def _endpoint(self) -> HttpProviderSettings:
        if not self.base_url:
            raise ValueError("base_url is required for type: http")
        if not self.path.startswith("/"):
            raise ValueError("path must start with '/'")
        unknown = sorted(_template_fields(self.body_template) - _TEMPLATE_FIELDS)
        if unknown:
            found = ", ".join("{" + u + "}" for u in unknown)
            allowed = ", ".join("{" + f + "}" for f in sorted(_TEMPLATE_FIELDS))
            raise ValueError(f"body_template: unknown placeholder(s) {found}; use {allowed}")
        return self


def _template_fields(node: Any) -> set[str]:
    """Every {name} used in the string values of a JSON template, at any depth."""
    if isinstance(node, str):
        return set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", node))
    if isinstance(node, dict):
        return set().union(*(_template_fields(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_template_fields(v) for v in node))
    return set()


class SandboxSettings(ProviderBase):
    type: Literal["sandbox"]
    # How many recent messages to keep in Redis (a capped list, newest first).
    keep: int = Field(default=200, ge=1, le=100_000)
    # Serve them at GET /sandbox/messages. It shows full numbers and codes: never in production.
    expose: bool = False


ProviderSettings = Annotated[
    TwilioSettings | VonageSettings | HttpProviderSettings | SandboxSettings,
    Field(discriminator="type"),
]


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    # Key for the keyed hash of phone numbers in logs/events; random per process when unset.
    phone_hash_key: Secret | None = None


class PricesSettings(Section):
    currency: str = "USD"
    # Price of one SMS segment when a country has no entry.
    default: float = Field(0.05, ge=0)
    per_country: dict[str, float] = {}


class PinSigningKey(Section):
    # Key id published in /.well-known/jwks.json and put in each step-up token's header.
    kid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    # PEM private key: EC P-256 (signs ES256) or Ed25519 (signs EdDSA); usually {file: PATH}.
    private_key: Secret


class PinSettings(Section):
    """The PIN step (owned by gateway/pin). Off unless `enabled`."""

    enabled: bool = False
    # Tenant domain that issues session and access tokens; default: auth0.tenant_domain.
    tenant_domain: str | None = None
    # HS256 secret shared with the post-login Action (its SMSGUARD_PIN_SECRET); enables GET /pin.
    # At least 32 bytes of random (`openssl rand -base64 48`).
    redirect_secret: Secret | None = None
    # Where the browser resumes the login; default: https://<tenant_domain>/continue.
    continue_url: str | None = None
    # Prefix of the custom claims the Action sets (pin_verified, pin_verified_at).
    claim_namespace: str = "https://smsguard/"
    # Lifetime of the answer token sent back to /continue.
    answer_ttl_s: int = Field(120, ge=10, le=3600)
    # Argon2id cost (OWASP floor: m=19 MiB, t=2, p=1); raising it re-hashes on next success.
    argon2_memory_kib: int = Field(19_456, ge=8_192, le=4_194_304)
    argon2_time_cost: int = Field(2, ge=1, le=20)
    argon2_parallelism: int = Field(1, ge=1, le=16)
    # Optional server-side pepper: PINs are HMAC-SHA256'd with it before hashing.
    pepper: Secret | None = None
    # PIN policy: length bounds, digits only, refuse common/guessable PINs.
    min_length: int = Field(6, ge=4, le=64)
    max_length: int = Field(64, ge=4, le=128)
    digits_only: bool = True
    blocklist: bool = True
    # Extra blocklist file (one PIN per line, `#` comments), added to the shipped list.
    blocklist_file: Path | None = None
    # Consecutive wrong PINs that lock the PIN until an operator resets or unlocks it.
    max_failures: int = Field(5, ge=1, le=100)
    # Delay before the next attempt after the n-th failure: base * 2^(n-1), capped.
    delay_base_s: float = Field(1.0, ge=0, le=3600)
    delay_max_s: float = Field(300.0, ge=0, le=86_400)
    # Wrong PINs from one client IP (any user) per window before that IP is refused.
    ip_max_failures: int = Field(30, ge=1, le=100_000)
    ip_window_s: int = Field(3600, ge=60, le=86_400 * 7)
    # Separate Redis for PIN records (must persist, noeviction); default: redis.url.
    redis_url: str | None = None
    # JSON API: the Auth0 API identifier access tokens must carry in `aud`; enables /v1/pin.
    api_audience: str | None = None
    # Tenant JWKS; default: https://<tenant_domain>/.well-known/jwks.json.
    jwks_url: str | None = None
    # Refetch the JWKS on an unknown `kid` at most this often.
    jwks_min_refetch_s: float = Field(30.0, ge=1, le=3600)
    # Step-up token signing keys: the first signs, all are published (rotation).
    signing_keys: list[PinSigningKey] = []
    # Step-up token lifetime.
    step_up_ttl_s: int = Field(300, ge=30, le=86_400)
    # `aud` of step-up tokens, distinct from the Auth0 API's; default: api_audience + "#step-up".
    step_up_audience: str | None = None
    # Argon2 verifications running at once (each ~20 MiB and one core for ~100 ms).
    verify_concurrency: int = Field(2, ge=1, le=64)
    # Reverse proxies in front of the gateway that append to X-Forwarded-For (0: use the peer).
    trusted_proxy_hops: int = Field(0, ge=0, le=10)

    @field_validator("redirect_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # A short secret can be brute-forced offline from a user's own session token, and then
        # forges "verified" answers for anyone.
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes: use `openssl rand -base64 48`")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PinSettings:
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")
        if self.enabled and not (self.redirect_secret or self.api_audience):
            raise ValueError("pin.enabled needs redirect_secret (browser step) or api_audience")
        if self.api_audience and not self.signing_keys:
            raise ValueError("api_audience needs at least one signing key (signing_keys)")
        kids = [k.kid for k in self.signing_keys]
        if len(set(kids)) != len(kids):
            raise ValueError("signing_keys: every kid must be unique")
        if self.api_audience and self.step_up_audience == self.api_audience:
            raise ValueError("step_up_audience must differ from api_audience")
        return self


class EventsSettings(Section):
    """The decision event log (owned by gateway/events.py)."""

    # Recent events kept in the Redis stream: at most this many (approximately) ...
    stream_max: int = Field(default=100_000, ge=100, le=10_000_000)
    # ... and none older than this many hours.
    stream_max_age_hours: float = Field(default=168.0, gt=0)
    # Days the per-minute and per-hour aggregates (dashboard charts and counts) are kept.
    retention_days: int = Field(default=14, ge=1, le=366)
    # Events waiting in memory to be written; beyond this new events are dropped and counted.
    buffer: int = Field(default=10_000, ge=10, le=1_000_000)
    # Events written per Redis pipeline, and the longest an event waits before a write.
    batch_size: int = Field(default=500, ge=1, le=10_000)
    flush_interval_ms: int = Field(default=250, ge=1, le=60_000)
    # Digits of the recipient kept as its "prefix" (country code + range; never the full number).
    prefix_digits: int = Field(default=6, ge=1, le=8)


class FeedbackLogStreamSettings(Section):
    """Auth0 Log Streams (Custom Webhook) -> POST /v1/auth0/log-stream (gateway/feedback)."""

    # The exact Authorization header value configured on the stream; unset: no endpoint (404).
    authorization: Secret | None = None
    # Largest body accepted: Auth0 batches many events per POST (not /sms's 8 KiB).
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=4096, le=64 * 1024 * 1024)


class FeedbackBackfillSettings(Section):
    """`smsguard feedback backfill`: a Management API client (client credentials)."""

    # Tenant domain (default: auth0.tenant_domain); the API is https://<domain>/api/v2/.
    domain: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None


class FeedbackSettings(Section):
    """Completed logins fed back into the decision (gateway/feedback)."""

    log_stream: FeedbackLogStreamSettings = FeedbackLogStreamSettings()
    # POST /v1/auth0/login-completed for the post-login Action (signed like POST /sms).
    login_action: bool = True
    # Lifetime of a recipient's "completed a login before" marker, from its last completion.
    verified_ttl_days: int = Field(default=180, ge=1, le=3650)
    # A code sent and not used stays "open" this long (a later completion can still claim it).
    open_code_ttl_s: int = Field(default=86_400, ge=300, le=14 * 86_400)
    # Open codes kept per recipient (the newest); older ones count as unused.
    max_open_codes: int = Field(default=16, ge=1, le=1000)
    # Auth0 log_ids remembered against redelivery.
    dedupe_ttl_days: int = Field(default=7, ge=1, le=60)
    # Completion date later than the send by at most this (Auth0's and our clocks differ).
    clock_skew_s: int = Field(default=60, ge=0, le=3600)
    # Writes waiting in memory (sent codes, PIN completions); beyond this dropped and counted.
    queue: int = Field(default=10_000, ge=10, le=1_000_000)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    flush_interval_ms: int = Field(default=250, ge=1, le=60_000)
    backfill: FeedbackBackfillSettings = FeedbackBackfillSettings()


class DashboardUser(Section):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    # Argon2id hash from `smsguard dashboard hash-password` (a string, {env: NAME} or {file: PATH}).
    password_hash: Secret

    @field_validator("password_hash")
    @classmethod
    def _argon2id(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("$argon2id$"):
            raise ValueError(
                "must be an Argon2id hash ($argon2id$...): run `smsguard dashboard hash-password`"
            )
        return value


class DashboardSettings(Section):
    """The security team's dashboard (owned by gateway/dashboard). Off without users."""

    # Who may log in; with no users the dashboard is off (404).
    users: list[DashboardUser] = []
    # Send the session cookie only over HTTPS; set false for plain-http local development only.
    cookie_secure: bool = True
    # A session ends after this many idle minutes, and in any case this many hours after login.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    # Login attempts allowed per client IP within the window before 429 (successes are given back).
    login_attempts: int = Field(default=5, ge=1, le=1000)
    login_window_s: int = Field(default=300, ge=10, le=86_400)
    # Failures for one username from one client IP: from the second, wait base * 2^(n-2) seconds
    # (at most max) before the next try; other IPs are not affected (no lock-out of the team).
    login_delay_base_s: float = Field(default=1.0, ge=0, le=3600)
    login_delay_max_s: float = Field(default=300.0, ge=0, le=86_400)
    # Reverse proxies in front of the dashboard that append to X-Forwarded-For (0: use the peer).
    trusted_proxy_hops: int = Field(0, ge=0, le=10)
    # Seconds between live updates of the overview and events pages.
    refresh_s: int = Field(default=5, ge=1, le=3600)
    # Every instance re-reads the whole override list this often (pub/sub applies changes at once).
    overrides_refresh_s: float = Field(default=30.0, gt=0, le=3600)


# --- alerts (gateway/alerts) ----------------------------------------------------------------

SeverityName = Literal["info", "warning", "critical"]


def require_https(url: str, *, allow_http: bool = False) -> str:
    """Alerts carry figures and links: plain http only to a loopback receiver (tests, sidecars)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        loopback = host == "localhost"
        if not loopback:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
        if loopback or allow_http:
            return url
        raise ValueError(f"{url!r}: use https (plain http is accepted only for loopback hosts)")
    raise ValueError(f"{url!r} is not an http(s) URL")


class _NotifierBase(Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    min_severity: SeverityName = "warning"
    timeout_s: float = Field(5.0, gt=0, le=30)


class WebhookSettings(_NotifierBase):
    """A JSON POST signed with HMAC-SHA256 (header X-Smsguard-Signature)."""

    type: Literal["webhook"]
    url: str
    secret: Secret  # the receiver verifies the signature with it

    @field_validator("url")
    @classmethod
    def _https(cls, url: str) -> str:
        return require_https(url)

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("the webhook secret must be at least 32 bytes")
        return value


class SlackSettings(_NotifierBase):
    """A Slack incoming webhook; its URL is itself the credential."""

    type: Literal["slack"]
    webhook_url: Secret

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: SecretStr) -> SecretStr:
        require_https(value.get_secret_value())
        return value


class PagerDutySettings(_NotifierBase):
    """PagerDuty Events API v2: trigger and resolve, deduplicated by the incident key."""

    type: Literal["pagerduty"]
    routing_key: Secret  # the integration key of a PagerDuty service
    url: str = "https://events.pagerduty.com/v2/enqueue"

    @field_validator("url")
    @classmethod
    def _https(cls, url: str) -> str:
        return require_https(url)


NotifierSettings = Annotated[
    WebhookSettings | SlackSettings | PagerDutySettings, Field(discriminator="type")
]


class AlertsSettings(Section):
    notifiers: list[NotifierSettings] = []
    # The dashboard's base URL for links in alerts; default: server.public_url.
    dashboard_url: str | None = None
    # An incident not raised again for this long is over: a resolve message goes out.
    resolve_after_s: int = Field(600, ge=30, le=86_400)
    # How long a delivery is retried while its receiver is down (backoff 1 s doubling to 60 s).
    retry_for_s: int = Field(900, ge=10, le=86_400)
    # At most this many messages a minute to one notifier; more are counted and dropped.
    per_minute: int = Field(30, ge=1, le=1000)
    # Alerts waiting for delivery, per notifier; beyond it new ones are counted and dropped.
    queue_size: int = Field(1000, ge=10, le=100_000)

    @field_validator("notifiers")
    @classmethod
    def _unique(cls, notifiers: list[NotifierSettings]) -> list[NotifierSettings]:
        names = [n.name for n in notifiers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"notifier names must be unique; repeated: {', '.join(dupes)}")
        return notifiers


def _default_providers() -> list[ProviderSettings]:
    return [SandboxSettings(name="sandbox", type="sandbox")]


class Settings(Section):
    server: ServerSettings = ServerSettings()
    redis: RedisSettings = RedisSettings()
    auth0: Auth0Settings = Auth0Settings()
    intake: IntakeSettings = IntakeSettings()
    rules: RulesSettings = RulesSettings()
    geoip: GeoipSettings = GeoipSettings()
    signals: SignalsSettings = SignalsSettings()
    providers: list[ProviderSettings] = Field(default_factory=_default_providers)
    # Country (ISO alpha-2) -> provider names tried in order; "default" for every other country.
    routes: dict[str, list[str]] = {}
    logging: LoggingSettings = LoggingSettings()
    prices: PricesSettings = PricesSettings()
    pin: PinSettings = PinSettings()
    events: EventsSettings = EventsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    alerts: AlertsSettings = AlertsSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    # Which file these settings came from, for messages; not a key in the file.
    source: str = Field("<defaults>", exclude=True)

    @field_validator("providers")
    @classmethod
    def _unique_names(cls, providers: list[Any]) -> list[Any]:
        names = [p.name for p in providers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"provider names must be unique; repeated: {', '.join(dupes)}")
        if not providers:
            raise ValueError("at least one provider is required (type: sandbox for a demo)")
        return providers

    @model_validator(mode="after")
    def _routes_name_providers(self) -> Settings:
        """Every route key is an ISO code or "default"; every route lists known providers once."""
        names = {p.name for p in self.providers}
        errors: list[InitErrorDetails] = []

        def bad(loc: tuple[str | int, ...], message: str, value: Any) -> None:
            errors.append(
                {
                    "type": "value_error",
                    "loc": loc,
                    "input": value,
                    "ctx": {"error": ValueError(message)},
                }
            )

        for country, route in self.routes.items():
            if country != "default" and not (
                len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()
            ):
                bad(
                    ("routes", country),
                    f"{country!r} is not an upper-case ISO 3166 alpha-2 country code or 'default'",
                    country,
                )
            if not route:
                bad(("routes", country), "a route lists at least one provider", route)
            for i, name in enumerate(route):
                if name not in names:
                    bad(
                        ("routes", country, i),
                        f"unknown provider {name!r} (known: {', '.join(sorted(names))})",
                        name,
                    )
                elif route.index(name) != i:
                    bad(("routes", country, i), f"provider {name!r} is listed twice", name)
        if errors:
            raise ValidationError.from_exception_data("Settings", errors)
        return self


def _env_overrides(
    data: dict[str, Any], environ: Mapping[str, str]
) -> tuple[list[tuple[str, ...]], list[Problem]]:
    """Apply SMSGUARD_A__B__C=value onto `data` in place, guided by the Settings model.

    Returns the paths set (so errors in them are reported against the variable) and problems
    with the variables themselves. Text and secret fields take the value byte for byte; other
    fields get the text for pydantic to convert ("9000" -> 9000, "true" -> True), or JSON when
    the value starts with [ or {. Map keys keep their case, except that two letters are a country
    code (upper case) and anything else is lower case (`SMSGUARD_ROUTES__DEFAULT`).
    """
    applied: list[tuple[str, ...]] = []
    problems: list[Problem] = []
    items = sorted(environ.items())
    if "REDIS_URL" in environ and f"{ENV_PREFIX}REDIS__URL" not in environ:
        items.append((f"{ENV_PREFIX}REDIS__URL", environ["REDIS_URL"]))
    for name, raw in items:
        if not name.startswith(ENV_PREFIX) or name == "SMSGUARD_CONFIG":
            continue
        try:
            path = _apply_env(data, name[len(ENV_PREFIX) :].split("__"), raw)
        except ValueError as exc:
            problems.append(Problem(Location(f"${name}"), str(exc)))
            continue
        applied.append(path)
    return applied, problems


def _apply_env(data: dict[str, Any], parts: list[str], raw: str) -> tuple[str, ...]:
    node: Any = data
    kind: Any = Settings
    path: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        key: str | int
        if kind is _AnyProvider:
            kind = _PROVIDER_TYPES.get(node.get("type") if isinstance(node, dict) else None)
            if kind is None:
                raise ValueError(f"{'.'.join(path)}: give this provider a `type` in the file")
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            key, kind = _model_field(kind, part, node)
        elif get_origin(kind) is list:
            if not part.isdigit() or not isinstance(node, list) or int(part) >= len(node):
                have = len(node) if isinstance(node, list) else 0
                raise ValueError(f"{'.'.join(path)}: no item {part} (the file has {have})")
            key, kind = int(part), get_args(kind)[0]
        elif get_origin(kind) is dict:
            key = part.upper() if len(part) == 2 else part.lower()
            kind = get_args(kind)[1]
        else:
            raise ValueError(f"{'.'.join(path)} is a single value; it has no key {part.lower()}")
        path.append(str(key))
        if last:
            node[key] = _env_value(kind, raw)
        else:
            if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
                node[key] = [] if get_origin(_unwrap(kind)) is list else {}
            node = node[key]
            kind = _unwrap(kind)
    return tuple(path)


def _model_field(model: type[BaseModel], part: str, node: Any) -> tuple[str, Any]:
    """The YAML key and the type of a model's field named by an env var part."""
    wanted = part.lower()
    for field_name, info in model.model_fields.items():
        if wanted in (field_name, info.alias):
            return info.alias or field_name, _unwrap(info.annotation)
    raise ValueError(f"unknown key {wanted!r} (one of {', '.join(_field_keys(model))})")


def _field_keys(model: type[BaseModel]) -> list[str]:
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _unwrap(kind: Any) -> Any:
    """Optional[X] / Annotated[X, ...] / a discriminated provider union -> what to walk next."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, UnionType):
            args = [a for a in get_args(kind) if a is not type(None)]
            if len(args) == 1:
                kind = args[0]
            elif all(isinstance(a, type) and issubclass(a, ProviderBase) for a in args):
                return _AnyProvider
            else:
                return kind
        else:
            return kind


class _AnyProvider(BaseModel):
    """Stands for "whichever provider type this list item is" while walking env paths."""


_PROVIDER_TYPES: dict[Any, type[BaseModel]] = {
    "twilio": TwilioSettings,
    "vonage": VonageSettings,
    "http": HttpProviderSettings,
    "sandbox": SandboxSettings,
}


def _env_value(kind: Any, raw: str) -> Any:
    kind = _unwrap(kind)
    if kind in (str, SecretStr):
        return raw
    text = raw.strip()
    if text in ("", "null", "~") and kind is not bool:
        return None
    if text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    return text


def build_settings(
    data: Any, locator: Locator | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate raw settings data (already merged with env) into Settings; raise ConfigError."""
    file = locator.file if locator else "<settings>"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(Location(file, 1, 1), "settings must be a mapping of sections")])
    environ_map = os.environ if environ is None else environ
    env_paths, env_problems = _env_overrides(data, environ_map)
    if env_problems:
        raise ConfigError(env_problems)
    try:
        settings = Settings.model_validate(data, context={"environ": environ_map})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
            dotted = ".".join(str(p) for p in path) or "(top level)"
            where = _where(path, env_paths, locator, file)
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(Problem(where, f"{dotted}: {message}"))
        raise ConfigError(problems) from None
    return settings.model_copy(update={"source": file})


_UNION_TAGS = {"twilio", "vonage", "http", "sandbox"}


def _where(
    path: tuple[Any, ...], env_paths: list[tuple[str, ...]], locator: Locator | None, file: str
) -> Location:
    as_str = tuple(str(p) for p in path)
    for env_path in env_paths:
        if as_str[: len(env_path)] == env_path:
            return Location(f"${ENV_PREFIX}{'__'.join(env_path).upper()}")
    return locator.at(path) if locator else Location(file)


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file (or only defaults + env when `path` is None)."""
    if path is None:
        return build_settings({}, None, environ)
    data, locator = load_yaml_file(path)
    return build_settings(data, locator, environ)


def redacted(settings: Settings) -> dict[str, Any]:
    """Settings as a plain dict safe to print: secrets shown as '**********', and passwords in
    URLs (redis://:password@host) replaced too."""
    shown: dict[str, Any] = _hide_url_passwords(settings.model_dump(mode="json", by_alias=True))
    return shown


_URL_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]+@")


def _hide_url_passwords(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1:**********@", value)
    if isinstance(value, dict):
        return {k: _hide_url_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_url_passwords(v) for v in value]
    return value
