"""How many SMS segments a body costs: GSM-7 or UCS-2, with concatenation headers.

A body is sent in GSM 03.38 7-bit (GSM-7) when every character is in its basic table or its
extension table (an extension character is an escape plus one septet: it counts 2); otherwise the
whole body goes as UCS-2, counted in UTF-16 code units (a character outside the Basic Multilingual
Plane, most emoji, is a surrogate pair: 2 units).

One segment holds 160 septets (GSM-7) or 70 units (UCS-2). A longer body is split into parts each
carrying a 6-byte concatenation header (UDH), leaving 153 septets or 67 units a part. Carriers do
not split an escape sequence or a surrogate pair across two parts, so a part may hold one less: the
count here packs parts the same way instead of dividing, which is what the provider bills.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set (the escape 0x1B itself is not text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The default extension table: each is sent as ESC + one septet.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """The encoding a body is sent in, its length in septets or UTF-16 units, and its parts."""

    encoding: Encoding
    units: int
    segments: int


def encoding_of(body: str) -> Encoding:
    """GSM-7 when every character is in the basic or extension table, else UCS-2."""
    for ch in body:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
            return "UCS-2"
    return "GSM-7"


def _widths(body: str, encoding: Encoding) -> list[int]:
    """Each character's size in the encoding's units (septets, or UTF-16 code units)."""
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in body]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in body]


def count_segments(body: str) -> SegmentCount:
    """The segments a provider bills for `body` (an empty body is still one message)."""
    encoding = encoding_of(body)
    widths = _widths(body, encoding)
    units = sum(widths)
    if units <= SINGLE[encoding]:
        return SegmentCount(encoding, units, 1)
    room = PART[encoding]
    segments, used = 1, 0
    for width in widths:
        if used + width > room:  # an escape pair or surrogate pair never straddles two parts
            segments += 1
            used = 0
        used += width
    return SegmentCount(encoding, units, segments)
