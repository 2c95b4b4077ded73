"""Constant-time comparison of secrets that arrive as text (CSRF tokens, signatures, tags).

`hmac.compare_digest` raises TypeError for a `str` with non-ASCII characters, so a form field or
header carrying one would turn a refusal into a 500. Both sides are compared as UTF-8 bytes; lone
surrogates (which aiohttp's form decoding can produce) are kept by `surrogateescape`.
"""

from __future__ import annotations

import hmac


def texts_equal(expected: str, given: str) -> bool:
    """Whether two strings are equal, in time independent of where they differ."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogateescape"), given.encode("utf-8", "surrogateescape")
    )
