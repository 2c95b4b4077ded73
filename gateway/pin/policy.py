"""Which PINs may be chosen: length, alphabet, and no guessable values.

Each refusal is a short code (`too_short`, `sequence`, ...) that the page and the JSON API turn
into a message (gateway/pin/i18n.py). The checks follow NIST SP 800-63B (blocklist of commonly
used, expected or compromised values) and the published PIN-frequency studies: repeats,
sequences, keypad walks, years and dates cover most of what people pick.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

SHIPPED_BLOCKLIST = Path(__file__).resolve().parent.parent / "data" / "common-pins.txt"

# Walks over a phone keypad (1-2-3 / 4-5-6 / 7-8-9 / 0) and a keyboard's digit row,
# in both directions; any stretch of 4 or more of these is refused.
_WALKS = (
    "1234567890",
    "147258369",
    "147",
    "2580",
    "369",
    "159",
    "357",
    "159753",
    "753951",
    "789456123",
    "123456789",
    "14702580369",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
)
_WALKS_BOTH = tuple({w for walk in _WALKS for w in (walk, walk[::-1])})


@dataclass(frozen=True)
class Refusal:
    """Why a PIN was not accepted: `code` keys the message catalogue, `params` fill it."""

    code: str
    params: tuple[tuple[str, int], ...] = ()

    def args(self) -> dict[str, int]:
        return dict(self.params)


def load_blocklist(extra: Path | None = None) -> frozenset[str]:
    """The shipped list plus an optional operator file: one value per line, `#` comments."""
    values: set[str] = set()
    for path in (SHIPPED_BLOCKLIST, extra):
        if path is None:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            value = line.split("#", 1)[0].strip()
            if value:
                values.add(value.lower())
    return frozenset(values)


class PinPolicy:
    """Decides whether a new PIN is acceptable; `check` returns None or the first Refusal."""

    def __init__(
        self,
        *,
        min_length: int = 6,
        max_length: int = 64,
        digits_only: bool = True,
        use_blocklist: bool = True,
        blocklist: frozenset[str] = frozenset(),
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.digits_only = digits_only
        self.use_blocklist = use_blocklist
        self.blocklist = blocklist

    def check(self, pin: str) -> Refusal | None:
        if self.digits_only and not (pin.isascii() and pin.isdigit()):
            return Refusal("not_digits")
        if len(pin) < self.min_length:
            return Refusal("too_short", (("min", self.min_length),))
        if len(pin) > self.max_length:
            return Refusal("too_long", (("max", self.max_length),))
        if not self.use_blocklist:
            return None
        return _guessable(pin.lower(), self.blocklist)


def _guessable(pin: str, blocklist: frozenset[str]) -> Refusal | None:
    if len(set(pin)) == 1:
        return Refusal("repeated")
    for size in range(1, len(pin) // 2 + 1):
        if len(pin) % size == 0 and pin[:size] * (len(pin) // size) == pin:
            return Refusal("pattern")
    if _is_sequence(pin):
        return Refusal("sequence")
    if any(pin in walk for walk in _WALKS_BOTH):
        return Refusal("keyboard")
    if pin.isdigit() and _is_year_or_date(pin):
        return Refusal("date")
    if pin in blocklist:
        return Refusal("common")
    return None


def _is_sequence(pin: str) -> bool:
    """Constant step of +1 or -1 between neighbours (digits wrap: 7890123)."""
    if not pin.isdigit() or len(pin) < 3:
        return False
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {9})


def _is_year_or_date(pin: str) -> bool:
    """Years (1900-2099) and dates in the usual day/month/year orders."""
    if len(pin) == 4:
        return 1900 <= int(pin) <= 2099 or _date(pin[:2], pin[2:]) or _date(pin[2:], pin[:2])
    if len(pin) == 6:
        a, b, c = pin[:2], pin[2:4], pin[4:]
        return _date(a, b) or _date(b, a) or _date(c, b)
    if len(pin) == 8:
        head, tail = pin[:4], pin[4:]
        return ((_date(pin[:2], pin[2:4]) or _date(pin[2:4], pin[:2])) and _year(tail)) or (
            _year(head) and _date(tail[2:], tail[:2])
        )
    return False


def _year(text: str) -> bool:
    return 1900 <= int(text) <= 2099


def _date(day: str, month: str) -> bool:
    """A real day of a month (29 February counts: it is somebody's birthday)."""
    try:
        dt.date(2000, int(month), int(day))
    except ValueError:
        return False
    return True
