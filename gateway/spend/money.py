"""Money as integers: amounts are counted in micro-units of the currency (1 USD = 1,000,000).

Per-segment prices are fractions of a cent (US: $0.0083), so cents cannot hold them; floats would
drift when thousands of them are added in Redis. Micro-units are exact for any price written with
up to six decimals, and every sum is an integer (Redis HINCRBY, Lua integers). Amounts are shown
rounded to the currency's minor unit ("$50.00", "12.40 EUR").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS = 1_000_000
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_NO_MINOR_UNIT = {"JPY", "KRW", "ISK", "CLP", "VND"}


def to_micros(value: object) -> int | None:
    """An amount written by a person or a file (`50`, `"0.0083"`, 0.04) in micro-units.

    None when it is not a number, is negative, or has more than six decimals: a float is read by
    its shortest decimal form (0.0083 stays 0.0083, not 0.00829999...).
    """
    if isinstance(value, bool):
        return None
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        return None
    return int(micros)


def format_money(micros: int, currency: str) -> str:
    """`$50.00`, `€0.75`, `1,204.50 CHF`: rounded half up to the currency's minor unit."""
    places = Decimal(1) if currency in _NO_MINOR_UNIT else Decimal("0.01")
    amount = (Decimal(micros) / MICROS).quantize(places, rounding=ROUND_HALF_UP)
    text = f"{amount:,}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
