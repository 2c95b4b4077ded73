"""What every section builds on: a frozen, strict model, and secrets read from env or files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationInfo


def _resolve_secret(value: object, info: ValidationInfo) -> object:
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


def require_unique(names: Iterable[str], what: str) -> None:
    """ValueError naming every repeated name (providers, notifiers: each is referred to by name)."""
    seen = list(names)
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(dupes)}")
