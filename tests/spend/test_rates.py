"""Message prices: segments x the per-country price, in exact integer micro-units."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.prices import PriceTable
from gateway.settings import PricesSettings
from gateway.spend.money import format_money, to_micros
from gateway.spend.rates import Rates, load_rates


def test_price_is_segments_times_the_country_price() -> None:
    """A 2-segment UCS-2 body to KG costs twice KG's price per segment."""
    rates = Rates("USD", 100_000, {"KG": 250_000})
    cost = rates.cost("Ж" * 71, "KG")
    assert (cost.segments.segments, cost.per_segment, cost.micros) == (2, 250_000, 500_000)


def test_unlisted_country_costs_the_default() -> None:
    """A country without its own price is priced at the default."""
    assert Rates("USD", 100_000, {"KG": 250_000}).cost("hi", "FR").micros == 100_000


def test_thousands_of_fractional_cent_prices_add_without_drift() -> None:
    """1,000 US messages at $0.0083 add to exactly $8.30."""
    rates = Rates.from_table(PriceTable(0.1, {"US": 0.0083}))
    total = sum(rates.cost("code 1", "US").micros for _ in range(1000))
    assert total == 8_300_000
    assert rates.show(total) == "$8.30"


def test_shipped_table_under_the_settings() -> None:
    """The operator's `prices:` win over the shipped table, and name the currency."""
    rates = load_rates(PricesSettings(currency="EUR", per_country={"KG": 0.5}))
    assert (rates.currency, rates.per_segment("KG")) == ("EUR", 500_000)
    assert rates.per_segment("US") == 8_300


def test_the_operators_own_csv(tmp_path: Path) -> None:
    """`prices.file` replaces the shipped table."""
    csv = tmp_path / "rates.csv"
    csv.write_text("country,usd_per_segment\n*,0.02\nKG,0.31\n")
    rates = load_rates(PricesSettings(file=csv))
    assert (rates.per_segment("KG"), rates.per_segment("US")) == (310_000, 20_000)


def test_a_price_finer_than_a_micro_unit_is_refused() -> None:
    """A price with seven decimals cannot be counted exactly: a config error names it."""
    with pytest.raises(ConfigError, match="KG"):
        Rates.from_table(PriceTable(0.1, {"KG": 0.0000001}))


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (50, 50_000_000),
        ("50.00", 50_000_000),
        (0.0083, 8_300),
        ("1", 1_000_000),
        (-1, None),
        ("abc", None),
        (True, None),
        ("0.0000001", None),
    ],
)
def test_amounts_in_micro_units(value: object, micros: int | None) -> None:
    """Amounts written in YAML or CSV become exact micro-units, or None when not an amount."""
    assert to_micros(value) == micros


@pytest.mark.parametrize(
    ("micros", "currency", "text"),
    [
        (50_000_000, "USD", "$50.00"),
        (8_300, "USD", "$0.01"),
        (1_204_500_000, "CHF", "1,204.50 CHF"),
        (750_000, "EUR", "€0.75"),
        (1_500_000, "JPY", "¥2"),
    ],
)
def test_money_is_shown_in_the_currency(micros: int, currency: str, text: str) -> None:
    """Amounts are shown rounded to the currency's minor unit, with its symbol or code."""
    assert format_money(micros, currency) == text
