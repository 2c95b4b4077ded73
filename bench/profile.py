"""Where a worker's CPU goes per request: a pyinstrument session folded into the path's stages.

Every sampled frame's own time goes to the deepest stage that contains it (the stage of the
innermost matching frame on its stack), so the stages add up to the whole sampled time. Time in
the event loop's `select` is idle and left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (stage, test on (function, file)) in priority order: the first test a frame passes names it.
Test = Callable[[str, str], bool]


def _in(fragment: str, functions: tuple[str, ...] = ()) -> Test:
    def test(function: str, file: str) -> bool:
        return fragment in file and (not functions or function in functions)

    return test


STAGES: list[tuple[str, Test]] = [
    ("idle (select)", lambda f, p: f in ("select", "poll") and p.endswith("selectors.py")),
    ("intake: JWT verify (PyJWT)", _in("gateway/intake.py", ("verify",))),
    ("intake: JSON parse + phone normalise", _in("gateway/intake.py", ("parse",))),
    ("intake: JSON parse + phone normalise", _in("gateway/phone.py")),
    ("signals (phone, IP, GeoIP, UA)", _in("gateway/signals.py", ("compute",))),
    ("policy: rules + velocity script args", _in("gateway/policy/")),
    ("velocity: store + batcher", _in("gateway/velocity/")),
    ("redis-py client", _in("/redis/")),
    ("provider: router + Twilio adapter", _in("gateway/providers/")),
    ("events: record + writer", _in("gateway/events.py")),
    ("metrics (prometheus_client)", _in("prometheus_client/")),
    ("log line (structlog)", _in("structlog/")),
    ("log line (structlog)", _in("gateway/logs.py")),
    ("pipeline glue (MessagePath)", _in("gateway/pipeline.py")),
    ("request middleware (gateway/app.py)", _in("gateway/app.py")),
    (
        "aiohttp client (provider HTTP)",
        lambda f, p: "aiohttp/client" in p or "aiohttp/connector" in p,
    ),
    ("aiohttp server (HTTP parse, response)", _in("aiohttp/")),
    ("JSON (stdlib)", _in("/json/")),
    ("asyncio event loop", _in("asyncio/")),
]


def _stage(function: str, file: str) -> str | None:
    for name, test in STAGES:
        if test(function, file):
            return name
    return None


def fold(path: Path) -> dict[str, float]:
    """Seconds of sampled time per stage."""
    from pyinstrument.session import Session

    session = Session.load(str(path))
    root = session.root_frame()
    totals: Counter[str] = Counter()
    if root is None:
        return {}
    stack: list[tuple[Any, str]] = [(root, "other")]
    while stack:
        frame, label = stack.pop()
        here = _stage(frame.function or "", frame.file_path or "") or label
        totals[here] += frame.total_self_time
        stack.extend((child, here) for child in frame.children)
    return dict(totals)


def per_request(totals: dict[str, float], cpu_us_per_request: float) -> list[dict[str, Any]]:
    """Stages as share of busy time and microseconds per request (scaled to the measured CPU)."""
    busy = {k: v for k, v in totals.items() if k != "idle (select)"}
    whole = sum(busy.values()) or 1.0
    return [
        {
            "stage": k,
            "share": round(v / whole, 4),
            "us_per_request": round(v / whole * cpu_us_per_request, 1),
        }
        for k, v in sorted(busy.items(), key=lambda kv: -kv[1])
    ]
