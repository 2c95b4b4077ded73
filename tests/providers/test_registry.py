"""The provider registry is complete: every type parses, builds, and is named in errors."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.clock import FakeClock
from gateway.errors import ConfigError
from gateway.metrics import Metrics
from gateway.providers import Deps, build_router
from gateway.providers.registry import BY_TYPE, PROVIDER_TYPES, type_name
from gateway.settings import build_settings

# The least each provider type needs besides `name` and `type`; a new type adds its line here.
MINIMAL: dict[str, dict[str, Any]] = {
    "twilio": {"account_sid": "AC" + "0" * 32, "auth_token": "t", "from": "+15005550006"},
    "vonage": {"api_key": "k", "api_secret": "s", "from": "Acme"},
    "http": {"base_url": "http://127.0.0.1:9"},
    "sandbox": {},
}


def test_every_provider_type_has_a_minimal_example() -> None:
    """The examples below cover exactly the registered types (a new type cannot be skipped)."""
    assert set(MINIMAL) == set(BY_TYPE)


def test_type_names_are_unique() -> None:
    """No two entries claim the same YAML `type:`."""
    assert len(BY_TYPE) == len(PROVIDER_TYPES)


@pytest.mark.parametrize("kind", sorted(BY_TYPE))
def test_settings_parse_into_the_registered_model(kind: str) -> None:
    """A provider of each type in the file becomes that type's settings model."""
    provider = {"name": "p", "type": kind, **MINIMAL[kind]}
    settings = build_settings({"providers": [provider]}, environ={})
    assert type(settings.providers[0]) is BY_TYPE[kind]
    assert type_name(type(settings.providers[0])) == kind


@pytest.mark.parametrize("kind", sorted(BY_TYPE))
def test_environment_variables_reach_every_type(kind: str) -> None:
    """SMSGUARD_PROVIDERS__0__... is walked along the model of the item's type."""
    provider = {"name": "p", "type": kind, **MINIMAL[kind]}
    environ = {"SMSGUARD_PROVIDERS__0__MAX_ATTEMPTS": "4"}
    settings = build_settings({"providers": [provider]}, environ=environ)
    assert settings.providers[0].max_attempts == 4


@pytest.mark.parametrize("kind", sorted(BY_TYPE))
async def test_every_type_builds_its_adapter(kind: str, redis_url: str) -> None:
    """The router gets an adapter, with the configured name, for every provider type."""
    provider = {"name": f"{kind}-1", "type": kind, **MINIMAL[kind]}
    settings = build_settings({"providers": [provider]}, environ={})
    redis = Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as session:
        router = build_router(settings, Deps(session, redis, FakeClock(), Metrics()))
    await redis.aclose()
    assert list(router.states()) == [f"{kind}-1"]


def test_an_unknown_type_is_refused_naming_every_type() -> None:
    """A misspelt `type:` gets an error that lists every registered type."""
    with pytest.raises(ConfigError) as caught:
        build_settings({"providers": [{"name": "p", "type": "twillio"}]}, environ={})
    (problem,) = caught.value.problems
    assert "providers.0" in str(problem)
    for kind in BY_TYPE:
        assert f"'{kind}'" in problem.message


@pytest.mark.parametrize("kind", sorted(BY_TYPE))
def test_a_wrong_key_names_the_item_not_the_type_tag(kind: str) -> None:
    """Errors inside a provider point at providers.0.<key>, without the union's type tag."""
    provider = {"name": "p", "type": kind, **MINIMAL[kind], "max_attempts": 0}
    with pytest.raises(ConfigError) as caught:
        build_settings({"providers": [provider]}, environ={})
    (problem,) = caught.value.problems
    assert problem.message.startswith("providers.0.max_attempts: ")
