"""Settings: one YAML file, every key overridable by environment, secrets from env or files.

Precedence, lowest first: embedded defaults (the models), the YAML file, environment variables
`SMSGUARD_<SECTION>__<KEY>` (list items by index: `SMSGUARD_PROVIDERS__0__AUTH_TOKEN`), and the
conventional `REDIS_URL`. A secret is written as a plain string, `{env: NAME}` or `{file: PATH}`.
Every problem is reported as `file:line:col: key: message`, all at once.

    base        Section (the frozen, strict model) and Secret (string, {env: NAME}, {file: PATH})
    server, intake, rules, signals, providers, events, pin, dashboard, alerts,
                feedback
                the models of each stage, in the module named after it; each provider type's
                model lives beside its adapter (gateway/providers/registry.py lists them)
    root        Settings: every section, the providers and the routes between them
    env         the SMSGUARD_A__B__C walker that lays environment variables onto file data
    problems    pydantic errors -> Problems at the file line or the variable that set the key
    load        load_settings (file + env) and build_settings (data + env) -> Settings
    redaction   redacted(settings): a dict safe to print
"""

from gateway.settings.alerts import (
    AlertsSettings,
    NotifierSettings,
    PagerDutySettings,
    SlackSettings,
    WebhookSettings,
)
from gateway.settings.base import Secret, Section
from gateway.settings.dashboard import DashboardSettings, DashboardUser
from gateway.settings.env import ENV_PREFIX
from gateway.settings.events import EventsSettings, PricesSettings
from gateway.settings.feedback import (
    FeedbackBackfillSettings,
    FeedbackLogStreamSettings,
    FeedbackSettings,
)
from gateway.settings.intake import Auth0Settings, IntakeSettings
from gateway.settings.load import build_settings, load_settings
from gateway.settings.pin import PinSettings, PinSigningKey
from gateway.settings.providers import BreakerSettings, ProviderBase
from gateway.settings.redaction import redacted
from gateway.settings.root import Settings
from gateway.settings.rules import RulesSettings
from gateway.settings.server import (
    LoggingSettings,
    RedisConnection,
    RedisSettings,
    ServerSettings,
)
from gateway.settings.signals import GeoipSettings, SignalsSettings

__all__ = [
    "ENV_PREFIX",
    "AlertsSettings",
    "Auth0Settings",
    "BreakerSettings",
    "DashboardSettings",
    "DashboardUser",
    "EventsSettings",
    "FeedbackBackfillSettings",
    "FeedbackLogStreamSettings",
    "FeedbackSettings",
    "GeoipSettings",
    "IntakeSettings",
    "LoggingSettings",
    "NotifierSettings",
    "PagerDutySettings",
    "PinSettings",
    "PinSigningKey",
    "PricesSettings",
    "ProviderBase",
    "RedisConnection",
    "RedisSettings",
    "RulesSettings",
    "Secret",
    "Section",
    "ServerSettings",
    "Settings",
    "SignalsSettings",
    "SlackSettings",
    "WebhookSettings",
    "build_settings",
    "load_settings",
    "redacted",
]
