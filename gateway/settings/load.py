"""Reading settings: a YAML file plus environment into a validated Settings, or every problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from gateway.errors import ConfigError, Location, Problem
from gateway.settings.env import env_overrides
from gateway.settings.problems import problems_of
from gateway.settings.root import Settings
from gateway.yamlsrc import Locator, load_yaml_file


def build_settings(
    data: object, locator: Locator | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate raw settings data (already merged with env) into Settings; raise ConfigError."""
    file = locator.file if locator else "<settings>"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(Location(file, 1, 1), "settings must be a mapping of sections")])
    environ_map = os.environ if environ is None else environ
    env_paths, env_problems = env_overrides(data, environ_map)
    if env_problems:
        raise ConfigError(env_problems)
    try:
        settings = Settings.model_validate(data, context={"environ": environ_map})
    except ValidationError as exc:
        raise ConfigError(problems_of(exc, env_paths, locator, file)) from None
    return settings.model_copy(update={"source": file})


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file (or only defaults + env when `path` is None)."""
    if path is None:
        return build_settings({}, None, environ)
    data, locator = load_yaml_file(path)
    return build_settings(data, locator, environ)
