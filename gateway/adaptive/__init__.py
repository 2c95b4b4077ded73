"""Adaptive protection: automatic temporary blocks of destinations whose codes stopped being used.

    figures.py  conversion figures of destinations from the feedback counters (typed queries:
                the watcher's input, and what a conversion dashboard page shows)
    watcher.py  Candidates (destinations sent to), Watcher (judge, block, alert, clear)

The learned budgets and conversion rules themselves are rules (`rules/25-outcomes.yaml`), decided
in the decision's one Redis call (`gateway.policy.statereads`); the watcher turns a collapse into an
override with an expiry that the security team sees, lifts or extends on the dashboard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.adaptive.figures import FeedbackFigures, Figures, FiguresSource
from gateway.adaptive.watcher import Candidates, Watcher
from gateway.appkeys import ALERTS, CLOCK, METRICS, OVERRIDES, POLICY, REDIS

__all__ = ["Candidates", "FeedbackFigures", "Figures", "FiguresSource", "Watcher", "setup"]

WATCHER = web.AppKey("adaptive_watcher", Watcher)


def setup(app: web.Application) -> None:
    """Run the auto-block watcher while the app runs (after the policy and the overrides)."""
    app.cleanup_ctx.append(_watcher_ctx)


async def _watcher_ctx(app: web.Application) -> AsyncIterator[None]:
    from gateway.policy.engine import RuleEngine

    engine = app[POLICY]
    overrides = app.get(OVERRIDES)
    if not isinstance(engine, RuleEngine) or overrides is None:
        yield
        return
    watcher = Watcher(
        lambda: engine.rules.auto_blocks,
        FeedbackFigures(app[REDIS], engine.feedback_keys),
        overrides,
        clock=app[CLOCK],
        metrics=app[METRICS],
        alerts=app.get(ALERTS),
    )
    engine.on_sent = watcher.candidates.add
    app[WATCHER] = watcher
    task = asyncio.get_running_loop().create_task(watcher.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
