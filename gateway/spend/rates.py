"""What one message costs: segments of its body x the destination country's price per segment.

Prices come from the price table the rest of the gateway uses (gateway/prices.py: the shipped CSV
under the operator's own `prices:` settings, or `prices.file`, the operator's own CSV), converted
once to integer micro-units (gateway/spend/money.py) so budgets add them without drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.errors import ConfigError, Location, Problem
from gateway.prices import PriceTable, operator_prices
from gateway.settings import PricesSettings
from gateway.spend.money import format_money, to_micros
from gateway.spend.segments import SegmentCount, count_segments


@dataclass(frozen=True, slots=True)
class Cost:
    """The price of one message: its segments and the amount in micro-units of `currency`."""

    segments: SegmentCount
    per_segment: int
    micros: int
    currency: str


@dataclass(frozen=True)
class Rates:
    """Per-segment prices in micro-units, per ISO country, with a default for the others."""

    currency: str
    default: int
    per_country: dict[str, int] = field(default_factory=dict)
    source: str = "<defaults>"

    def per_segment(self, country: str | None) -> int:
        if country is None:
            return self.default
        return self.per_country.get(country.upper(), self.default)

    def cost(self, body: str, country: str | None) -> Cost:
        segments = count_segments(body)
        price = self.per_segment(country)
        return Cost(segments, price, segments.segments * price, self.currency)

    def show(self, micros: int) -> str:
        return format_money(micros, self.currency)

    @classmethod
    def from_table(cls, table: PriceTable) -> Rates:
        """The table's prices in micro-units (a price with more than 6 decimals is refused)."""
        problems: list[Problem] = []

        def micros(country: str, value: float) -> int:
            amount = to_micros(value)
            if amount is None:
                problems.append(
                    Problem(Location(table.source), f"price of {country} {value!r}: 6 decimals max")
                )
                return 0
            return amount

        default = micros("*", table.default)
        per_country = {c: micros(c, v) for c, v in table.per_country.items()}
        if problems:
            raise ConfigError(problems)
        return cls(table.currency, default, per_country, table.source)


def load_rates(settings: PricesSettings) -> Rates:
    """The operator's CSV (`prices.file`, else the shipped one), with the settings on top."""
    return Rates.from_table(operator_prices(settings))
