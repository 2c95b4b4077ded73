"""Settings safe to print: no secret and no password in a URL."""

from __future__ import annotations

import re

from gateway.settings.root import Settings


def redacted(settings: Settings) -> dict[str, object]:
    """Settings as a plain dict safe to print: secrets shown as '**********', and passwords in
    URLs (redis://:password@host) replaced too."""
    dumped = settings.model_dump(mode="json", by_alias=True)
    return {key: _hide_url_passwords(value) for key, value in dumped.items()}


_URL_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]+@")


def _hide_url_passwords(value: object) -> object:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1:**********@", value)
    if isinstance(value, dict):
        return {k: _hide_url_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_url_passwords(v) for v in value]
    return value
