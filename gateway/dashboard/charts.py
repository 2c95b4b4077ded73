"""Charts drawn on the server as SVG: no chart library, no script, nothing fetched from elsewhere.

Colours and fonts come from presentation attributes and CSS classes (the CSP forbids inline styles).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

COLOURS = {"sent": "#2e7d32", "blocked": "#c62828", "dropped": "#ef6c00", "failed": "#6a1b9a"}
COLOURS["completed"] = "#1565c0"  # the Conversion page: codes used (a login finished)


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = int(10 ** (len(str(value)) - 1))
    for step in (1, 2, 5, 10):
        top = step * magnitude
        if top >= value:
            return top
    return value


def time_series(
    starts: list[int],
    series: dict[str, list[int]],
    bucket_s: int,
    *,
    width: int = 900,
    height: int = 220,
) -> Markup:
    """A line per action over time, with a y axis, a few time labels and a legend."""
    left, right, top, bottom = 48, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((max(v) for v in series.values() if v), default=0))
    n = max(len(starts), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="messages over time" xmlns="http://www.w3.org/2000/svg">'
    ]
    for k in range(5):
        value = peak * k // 4
        yy = y(value)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">{value}</text>'
        )
    fmt = "%H:%M" if bucket_s < 3600 or len(starts) <= 24 else "%d %b"
    for i in range(0, n, max(n // 6, 1)):
        if i < len(starts):
            label = datetime.fromtimestamp(starts[i], UTC).strftime(fmt)
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'class="axis">{label}</text>'
            )
    for name, values in series.items():
        if not values:
            continue
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        colour = COLOURS.get(name, "#333")
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}" '
            f'data-series="{escape(name)}"/>'
        )
    lx = left
    for name in series:
        colour = COLOURS.get(name, "#333")
        parts.append(
            f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{height - 3}" class="legend">{escape(name)}</text>'
        )
        lx += 90
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # built from numbers and escaped names only


def bar(value: int, peak: int, *, width: int = 120, colour: str = "#c62828") -> Markup:
    """A small horizontal bar for a table cell."""
    w = 0 if peak <= 0 else max(1, round(width * value / peak))
    return Markup(  # noqa: S704  # numbers only
        f'<svg class="bar" width="{width}" height="10" aria-hidden="true" '
        f'xmlns="http://www.w3.org/2000/svg"><rect width="{w}" height="10" fill="{colour}"/></svg>'
    )
