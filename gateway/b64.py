"""base64url as JWTs and Auth0's `secret_base64_encoded` use it: strict, padding optional."""

from __future__ import annotations

import base64
import binascii
import re


def b64url_decode(value: str) -> bytes:
    """Strict base64url (padding optional): anything else is a ValueError."""
    if not _B64URL.fullmatch(value):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
