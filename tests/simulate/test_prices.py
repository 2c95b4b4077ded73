"""The per-country SMS price table: the shipped CSV, operators' CSVs, and the settings on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.prices import load_price_csv, shipped_prices
from gateway.settings import PricesSettings
from gateway.simulate.population import LEGIT_COUNTRIES, PUMPING_COUNTRIES


def test_shipped_table_prices_every_simulated_country() -> None:
    """The shipped table has a price for every country the simulator sends to, and a default."""
    table = shipped_prices()
    assert table.currency == "USD"
    assert table.default > 0
    for country in (*LEGIT_COUNTRIES, *PUMPING_COUNTRIES):
        assert country in table.per_country, country


def test_pumping_destinations_cost_more_than_home_markets() -> None:
    """Pumping destinations are priced above the US and GB, as the public list prices are."""
    table = shipped_prices()
    assert min(table.price(c) for c in ("UZ", "TJ", "AZ")) > table.price("GB") > table.price("US")


def test_unknown_country_gets_the_default() -> None:
    """A country not in the table, or none at all, is priced at the `*` row."""
    table = shipped_prices()
    assert table.price("ZZ") == table.price(None) == table.default


def test_operator_csv(tmp_path: Path) -> None:
    """An operator's CSV is read with comments, a header and lower-case countries."""
    path = tmp_path / "rates.csv"
    path.write_text("# our rates\ncountry,usd_per_segment,note\n*,0.2\ngb,0.03,contract\n")
    table = load_price_csv(path)
    assert (table.default, table.per_country) == (0.2, {"GB": 0.03})


def test_bad_rows_reported_with_their_line(tmp_path: Path) -> None:
    """Every bad row is reported at once as file:line: message."""
    path = tmp_path / "rates.csv"
    path.write_text("country,usd_per_segment\nGB,cheap\nGBR,0.1\nFR,-1\n")
    with pytest.raises(ConfigError) as caught:
        load_price_csv(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: price 'cheap' is not a number",
        f"{path}:3: 'GBR' is not an ISO alpha-2 country or `*`",
        f"{path}:4: price '-1' must be zero or more",
    ]


def test_settings_prices_win() -> None:
    """The settings `prices:` section overrides the table's countries and explicit default."""
    table = shipped_prices().with_settings(PricesSettings(default=0.5, per_country={"uz": 0.01}))
    assert table.price("UZ") == 0.01
    assert table.price("ZZ") == 0.5
    assert table.price("GB") == shipped_prices().price("GB")


def test_table_loads_into_settings() -> None:
    """The table converts to a valid settings `prices:` section (what the dashboard reads)."""
    section = shipped_prices().as_settings()
    assert section.per_country["GB"] == shipped_prices().price("GB")
