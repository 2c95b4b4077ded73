"""Segments of a body: GSM-7 vs UCS-2, concatenation, parts packed as carriers pack them."""

from __future__ import annotations

import pytest

from gateway.spend.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments


def test_gsm7_tables_have_their_standard_sizes() -> None:
    """The basic table has 127 printable characters (128 minus the escape), the extension 10."""
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10


@pytest.mark.parametrize(
    ("body", "encoding", "units", "segments"),
    [
        ("Your verification code is 123456", "GSM-7", 32, 1),
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("é è à Ç Ø ß Δ", "GSM-7", 13, 1),  # accented letters of the basic table
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count 2
        ("€" * 81, "GSM-7", 162, 2),
        ("{[|]}" + "a" * 150, "GSM-7", 160, 1),
        # an escape pair never straddles two parts: 152 + (2 + 151) + 1
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("ça va", "UCS-2", 5, 1),  # lowercase ç is not in the GSM-7 table
        ("Привет", "UCS-2", 6, 1),
        ("Ж" * 70, "UCS-2", 70, 1),
        ("Ж" * 71, "UCS-2", 71, 2),
        ("Ж" * 134, "UCS-2", 134, 2),
        ("Ж" * 135, "UCS-2", 135, 3),
        ("Code 123456 😀", "UCS-2", 14, 1),  # one emoji turns the whole body UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # astral characters are surrogate pairs: 2 units
        ("😀" * 36, "UCS-2", 72, 2),
        # a surrogate pair never straddles two parts: 66 + (2 + 64) + 2
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),
        ("您的验证码是 123456", "UCS-2", 13, 1),
    ],
)
def test_segments_of_known_bodies(body: str, encoding: str, units: int, segments: int) -> None:
    """Known bodies count the encoding, length and parts a provider bills."""
    got = count_segments(body)
    assert (got.encoding, got.units, got.segments) == (encoding, units, segments)
