"""Per-country SMS prices (the dashboard's money saved, the simulator's report): the shipped CSV
table (gateway/data/sms-prices.csv) under the settings' own `prices:`.

The CSV is `country,usd_per_segment,note` with `#` comment lines; the row `*` is the price of every
country not listed. `PriceTable.with_settings` layers the settings `prices:` section on top (its
`per_country` entries win; its `default` wins only when the operator changed it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gateway.countries import is_country
from gateway.errors import ConfigError, Location, Problem
from gateway.settings import PricesSettings

SHIPPED = "sms-prices.csv"
_DEFAULT_ROW = "*"


@dataclass(frozen=True)
class PriceTable:
    """Price of one SMS segment per destination country, in `currency`."""

    default: float
    per_country: dict[str, float] = field(default_factory=dict)
    currency: str = "USD"
    source: str = "<defaults>"

    def price(self, country: str | None) -> float:
        if country is None:
            return self.default
        return self.per_country.get(country.upper(), self.default)

    def with_settings(self, settings: PricesSettings) -> PriceTable:
        """The settings' own prices over this table (the operator's rates win)."""
        default = self.default
        if "default" in settings.model_fields_set:
            default = settings.default
        merged = dict(self.per_country)
        merged.update({k.upper(): v for k, v in settings.per_country.items()})
        return PriceTable(default, merged, settings.currency, f"{self.source} + settings")

    def as_settings(self) -> PricesSettings:
        """This table as a settings `prices:` section (what the dashboard reads)."""
        return PricesSettings(
            currency=self.currency, default=self.default, per_country=dict(self.per_country)
        )


def parse_price_csv(text: str, source: str) -> PriceTable:
    """Parse the CSV; every bad row is reported as `file:line: message`, all at once."""
    problems: list[Problem] = []
    prices: dict[str, float] = {}
    default: float | None = None
    header_seen = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader([line]))
        if not header_seen:
            header_seen = True
            if row[0].strip().lower() == "country":
                continue
        where = Location(source, lineno)
        if len(row) < 2:
            problems.append(Problem(where, "expected `country,usd_per_segment[,note]`"))
            continue
        country, value = row[0].strip().upper(), row[1].strip()
        try:
            price = float(value)
        except ValueError:
            problems.append(Problem(where, f"price {value!r} is not a number"))
            continue
        if not price >= 0:
            problems.append(Problem(where, f"price {value!r} must be zero or more"))
            continue
        if country == _DEFAULT_ROW:
            default = price
        elif is_country(country):
            if country in prices:
                problems.append(Problem(where, f"country {country} listed twice"))
            prices[country] = price
        else:
            problems.append(Problem(where, f"{row[0]!r} is not an ISO alpha-2 country or `*`"))
    if problems:
        raise ConfigError(problems)
    return PriceTable(
        default if default is not None else PricesSettings().default, prices, "USD", source
    )


def load_price_csv(path: Path) -> PriceTable:
    """Read a price CSV file (an operator's own rates)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(Location(str(path)), f"cannot read: {exc.strerror}")]) from exc
    return parse_price_csv(text, str(path))


def shipped_prices() -> PriceTable:
    """The approximate list prices shipped with smsguard (gateway/data/sms-prices.csv)."""
    ref = resources.files("gateway") / "data" / SHIPPED
    return parse_price_csv(ref.read_text(encoding="utf-8"), f"gateway/data/{SHIPPED}")


def operator_prices(settings: PricesSettings) -> PriceTable:
    """The prices in force: the operator's CSV (`prices.file`) or the shipped one, with the
    settings' own `per_country` / `default` on top."""
    table = load_price_csv(settings.file) if settings.file is not None else shipped_prices()
    return table.with_settings(settings)
