"""Budget periods: a calendar day or hour in a time zone, or a rolling window in minutes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.spend.periods import Period


def at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_the_day_rolls_over_at_local_midnight() -> None:
    """23:59 and 00:00 in Bishkek (UTC+6) are two days, though both are the same UTC day."""
    day = Period("day", 86400, "Asia/Bishkek")
    before = day.window(at("2026-12-03T23:59:00", "Asia/Bishkek"))
    after = day.window(at("2026-12-04T00:00:00", "Asia/Bishkek"))
    assert (before.name, after.name) == ("2026-12-03", "2026-12-04")
    assert before.ends_at == at("2026-12-04T00:00:00", "Asia/Bishkek")


def test_a_utc_budget_keeps_its_day_where_bishkek_changed() -> None:
    """At 18:30 UTC Bishkek is already in the next day; a UTC budget is not."""
    now = at("2026-12-03T18:30:00", "UTC")
    assert Period("day", 86400, "UTC").window(now).name == "2026-12-03"
    assert Period("day", 86400, "Asia/Bishkek").window(now).name == "2026-12-04"


def test_a_dst_day_is_23_hours_long() -> None:
    """The day the clocks go forward in Paris ends 23 h after it began."""
    day = Period("day", 86400, "Europe/Paris")
    start = at("2026-03-29T00:00:00", "Europe/Paris")
    assert day.window(start).ends_at - start == 23 * 3600


def test_calendar_hour_names_the_local_hour() -> None:
    """An hourly budget counts in the local clock hour."""
    hour = Period("hour", 3600, "America/New_York")
    assert hour.window(at("2026-07-01T09:59:59", "America/New_York")).name == "2026-07-01T09"


def test_rolling_window_counts_in_minutes() -> None:
    """A rolling window has one counter and puts each decision in its minute."""
    rolling = Period("rolling", 86400, "UTC").window(120.5)
    assert (rolling.name, rolling.rolling_ms, rolling.bucket) == ("", 86_400_000, 2)


def test_periods_read_as_people_say_them() -> None:
    """Reasons say daily, hourly, rolling 24 h."""
    assert [Period("day", 86400).adjective, Period("hour", 3600).adjective] == ["daily", "hourly"]
    assert Period("rolling", 86400).adjective == "rolling 24 h"
