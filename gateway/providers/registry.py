"""The provider types, one entry each: the settings model, which lives beside its adapter.

An entry's `type: Literal["name"]` is its YAML `type:`, and its `build_provider(deps)` makes the
adapter. Everything else is derived from PROVIDER_TYPES, so no list can miss a type:
ProviderSettings (the union Settings.providers is validated with), BY_TYPE (YAML name -> model,
for the environment walker and the error messages) and the router's adapters.
"""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Annotated, TypeAlias, get_args

from pydantic import Field

from gateway.providers.generic import HttpProviderSettings
from gateway.providers.sandbox import SandboxSettings
from gateway.providers.twilio import TwilioSettings
from gateway.providers.vonage import VonageSettings
from gateway.settings.providers import ProviderBase

PROVIDER_TYPES: tuple[type[ProviderBase], ...] = (
    TwilioSettings,
    VonageSettings,
    HttpProviderSettings,
    SandboxSettings,
)


def type_name(model: type[ProviderBase]) -> str:
    """The YAML `type:` of a provider type: the one value of its `type` Literal."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


BY_TYPE: dict[str, type[ProviderBase]] = {type_name(m): m for m in PROVIDER_TYPES}

if TYPE_CHECKING:
    ProviderSettings: TypeAlias = ProviderBase
else:
    # Built from the tuple, so mypy sees the common base; pydantic picks the model by `type`.
    ProviderSettings = Annotated[
        functools.reduce(operator.or_, PROVIDER_TYPES), Field(discriminator="type")
    ]
