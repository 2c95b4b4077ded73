"""Environment variables onto settings data: `SMSGUARD_<SECTION>__<KEY>` walked along the models."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from gateway.errors import Location, Problem
from gateway.jsontypes import JSON
from gateway.providers.registry import BY_TYPE
from gateway.settings.providers import ProviderBase
from gateway.settings.root import Settings

ENV_PREFIX = "SMSGUARD_"


def env_overrides(
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
    # Any: the settings data before validation, dicts and lists nested as the file wrote them.
    node: Any = data
    kind: object = Settings  # a type annotation of the model, walked with get_origin/get_args
    path: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        key: str | int
        if kind is _AnyProvider:
            kind = BY_TYPE.get(str(node.get("type")) if isinstance(node, dict) else "")
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


def _model_field(model: type[BaseModel], part: str, node: object) -> tuple[str, object]:
    """The YAML key and the type of a model's field named by an env var part."""
    wanted = part.lower()
    for field_name, info in model.model_fields.items():
        if wanted in (field_name, info.alias):
            return info.alias or field_name, _unwrap(info.annotation)
    raise ValueError(f"unknown key {wanted!r} (one of {', '.join(_field_keys(model))})")


def _field_keys(model: type[BaseModel]) -> list[str]:
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _unwrap(kind: object) -> object:
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


def _env_value(kind: object, raw: str) -> JSON:
    kind = _unwrap(kind)
    if kind in (str, SecretStr):
        return raw
    text = raw.strip()
    if text in ("", "null", "~") and kind is not bool:
        return None
    if text[:1] in ("[", "{"):
        try:
            value: JSON = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
        return value
    return text
