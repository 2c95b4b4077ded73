"""The whole settings: one section per stage, the providers, and the routes between them."""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails

from gateway.providers.registry import ProviderSettings
from gateway.providers.sandbox import SandboxSettings
from gateway.settings.alerts import AlertsSettings
from gateway.settings.base import Section, require_unique
from gateway.settings.dashboard import DashboardSettings
from gateway.settings.events import EventsSettings, PricesSettings
from gateway.settings.feedback import FeedbackSettings
from gateway.settings.intake import Auth0Settings, IntakeSettings
from gateway.settings.pin import PinSettings
from gateway.settings.providers import ProviderBase
from gateway.settings.rules import RulesSettings
from gateway.settings.server import LoggingSettings, RedisSettings, ServerSettings
from gateway.settings.signals import GeoipSettings, SignalsSettings


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
    def _unique_names(cls, providers: list[ProviderBase]) -> list[ProviderBase]:
        require_unique((p.name for p in providers), "provider")
        if not providers:
            raise ValueError("at least one provider is required (type: sandbox for a demo)")
        return providers

    @model_validator(mode="after")
    def _routes_name_providers(self) -> Settings:
        """Every route key is an ISO code or "default"; every route lists known providers once."""
        names = {p.name for p in self.providers}
        errors: list[InitErrorDetails] = []

        def bad(loc: tuple[str | int, ...], message: str, value: object) -> None:
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
