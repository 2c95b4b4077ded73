"""Validation errors as problems: each names the key, and the file line or variable it came from."""

from __future__ import annotations

from pydantic import ValidationError

from gateway.errors import Location, Problem
from gateway.providers.registry import BY_TYPE
from gateway.settings.env import ENV_PREFIX
from gateway.yamlsrc import Locator


def problems_of(
    exc: ValidationError, env_paths: list[tuple[str, ...]], locator: Locator | None, file: str
) -> list[Problem]:
    """One problem per pydantic error: `key.path: message` at the line (or variable) that set it."""
    problems = []
    for err in exc.errors():
        path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in BY_TYPE))
        dotted = ".".join(str(p) for p in path) or "(top level)"
        where = _where(path, env_paths, locator, file)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(Problem(where, f"{dotted}: {message}"))
    return problems


def _where(
    path: tuple[str | int, ...],
    env_paths: list[tuple[str, ...]],
    locator: Locator | None,
    file: str,
) -> Location:
    as_str = tuple(str(p) for p in path)
    for env_path in env_paths:
        if as_str[: len(env_path)] == env_path:
            return Location(f"${ENV_PREFIX}{'__'.join(env_path).upper()}")
    return locator.at(path) if locator else Location(file)
