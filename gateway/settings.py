"""Settings: one YAML file, every key overridable by environment, secrets from env or files.

Precedence, lowest first: embedded defaults (the models below), the YAML file, environment variables
`SMSGUARD_<SECTION>__<KEY>` (list items by index: `SMSGUARD_PROVIDERS__0__AUTH_TOKEN`), and the
conventional `REDIS_URL`. A secret is written as a plain string, `{env: NAME}` or `{file: PATH}`.
Every problem is reported as `file:line:col: key: message`, all at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import ConfigError, Location, Problem
from gateway.yamlsrc import Locator, load_yaml_file

ENV_PREFIX = "SMSGUARD_"


def _resolve_secret(value: Any) -> Any:
    """Turn `{env: NAME}` / `{file: PATH}` into the secret's text; leave anything else to pydantic."""
    if isinstance(value, Mapping) and len(value) == 1:
        (kind, ref), = value.items()
        if kind == "env":
            if str(ref) not in os.environ:
                raise ValueError(f"environment variable {ref} is not set")
            return os.environ[str(ref)]
        if kind == "file":
            try:
                return Path(str(ref)).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read secret file {ref}: {exc.strerror}") from exc
        raise ValueError(f"a secret is a string, {{env: NAME}} or {{file: PATH}}, not {{{kind}: ...}}")
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


class IntakeSettings(Section):
    # Answer Auth0 within this many seconds (Auth0 itself gives up at 30).
    deadline_s: float = Field(10.0, gt=0, le=29)
    max_body_bytes: int = Field(8192, ge=256, le=1_048_576)
    # Region assumed for numbers written without a leading "+"; None refuses them.
    default_region: str | None = None


class RulesSettings(Section):
    path: Path = Path("rules")
    # Reload automatically when a file under `path` changes (SIGHUP always reloads).
    watch: bool = True


class GeoipSettings(Section):
    country_db: Path | None = None
    asn_db: Path | None = None
    anonymous_db: Path | None = None


class BreakerSettings(Section):
    # Consecutive failures that open the circuit, and how long it stays open before one trial.
    failure_threshold: int = Field(5, ge=1)
    reset_after_s: float = Field(30.0, gt=0)


class ProviderBase(Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    base_url: str = ""
    connect_timeout_s: float = Field(3.0, gt=0)
    read_timeout_s: float = Field(8.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=10)
    breaker: BreakerSettings = BreakerSettings()


class TwilioSettings(ProviderBase):
    type: Literal["twilio"]
    base_url: str = "https://api.twilio.com"
    account_sid: str
    auth_token: Secret
    from_: str | None = Field(None, alias="from")
    messaging_service_sid: str | None = None
    # Where Twilio posts delivery status; default: <server.public_url>/providers/twilio/status.
    status_callback: str | None = None

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
    from_: str = Field(alias="from")


class HttpProviderSettings(ProviderBase):
    type: Literal["http"]
    # Full URL of the send endpoint; `base_url` + `path` when `url` is not given.
    path: str = "/"
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, Secret] = {}
    # JSON body; string values may use {to}, {body}, {message_id}, {country}, {from}.
    body_template: dict[str, Any] = {"to": "{to}", "text": "{body}"}
    from_: str | None = Field(None, alias="from")
    success_status: list[int] = [200, 201, 202]
    # Dotted path to the provider's message id in its JSON answer ("data.id"); optional.
    message_id_field: str | None = None


class SandboxSettings(ProviderBase):
    type: Literal["sandbox"]
    # How many recent messages to keep in Redis.
    keep: int = Field(200, ge=1, le=100_000)
    # Serve them at GET /sandbox/messages (never enable in production: it shows codes).
    expose: bool = True


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


class PinSettings(Section):
    """The PIN step (owned by gateway/pin). Off unless `enabled`."""

    enabled: bool = False


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
    # Failed logins allowed per client IP (and per username) within the window before 429.
    login_attempts: int = Field(default=5, ge=1, le=1000)
    login_window_s: int = Field(default=300, ge=10, le=86_400)
    # Seconds between live updates of the overview and events pages.
    refresh_s: int = Field(default=5, ge=1, le=3600)
    # Every instance re-reads the whole override list this often (pub/sub applies changes at once).
    overrides_refresh_s: float = Field(default=30.0, gt=0, le=3600)


class Settings(Section):
    server: ServerSettings = ServerSettings()
    redis: RedisSettings = RedisSettings()
    auth0: Auth0Settings = Auth0Settings()
    intake: IntakeSettings = IntakeSettings()
    rules: RulesSettings = RulesSettings()
    geoip: GeoipSettings = GeoipSettings()
    providers: list[ProviderSettings] = Field(
        default_factory=lambda: [SandboxSettings(name="sandbox", type="sandbox")]
    )
    # Country (ISO alpha-2) -> provider names tried in order; "default" for every other country.
    routes: dict[str, list[str]] = {}
    logging: LoggingSettings = LoggingSettings()
    prices: PricesSettings = PricesSettings()
    pin: PinSettings = PinSettings()
    events: EventsSettings = EventsSettings()
    dashboard: DashboardSettings = DashboardSettings()
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
        names = {p.name for p in self.providers}
        for country, route in self.routes.items():
            if country != "default" and not (len(country) == 2 and country.isupper()):
                raise ValueError(f"routes: {country!r} is not an ISO country code or 'default'")
            unknown = [n for n in route if n not in names]
            if unknown:
                raise ValueError(f"routes.{country}: unknown provider(s) {', '.join(unknown)}")
        return self


def _env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> list[tuple[str, ...]]:
    """Apply SMSGUARD_A__B__C=value onto `data` in place; return the paths it set."""
    applied: list[tuple[str, ...]] = []
    items = sorted(environ.items())
    if "REDIS_URL" in environ and f"{ENV_PREFIX}REDIS__URL" not in environ:
        items.append((f"{ENV_PREFIX}REDIS__URL", environ["REDIS_URL"]))
    for name, raw in items:
        if not name.startswith(ENV_PREFIX) or name == "SMSGUARD_CONFIG":
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        value: Any = yaml.safe_load(raw) if raw.strip() else ""
        if isinstance(value, (dict, list)) or value is None:
            value = raw if value is None and raw else value
        node: Any = data
        for part in path[:-1]:
            key: str | int = int(part) if part.isdigit() else part
            if isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            elif isinstance(node, dict):
                node = node.setdefault(key, {})
            else:
                break
        else:
            last: str | int = int(path[-1]) if path[-1].isdigit() else path[-1]
            if isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = value
            elif isinstance(node, dict):
                # Secrets given by env stay strings even if they look like numbers.
                node[last] = raw if isinstance(value, (int, float)) and _is_secretish(last) else value
            applied.append(path)
    return applied


def _is_secretish(key: str | int) -> bool:
    return isinstance(key, str) and any(w in key for w in ("secret", "token", "password", "key"))


def build_settings(
    data: Any, locator: Locator | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate raw settings data (already merged with env) into Settings; raise ConfigError."""
    file = locator.file if locator else "<settings>"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(Location(file, 1, 1), "settings must be a mapping of sections")])
    env_paths = _env_overrides(data, os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(data)
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
    """Settings as a plain dict safe to print: secrets shown as '**********'."""
    return settings.model_dump(mode="json", by_alias=True)
