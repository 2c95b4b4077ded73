"""The overview: decisions over a range, money saved, top countries and rules (page and JSON)."""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import CLOCK, DASHBOARD, REDIS
from gateway.dashboard import charts, queries
from gateway.dashboard.auth import Session
from gateway.dashboard.page import render


async def _overview(request: web.Request) -> queries.Overview:
    range_ = request.query.get("range", "hour")
    prices = request.app[DASHBOARD].prices
    return await queries.overview(request.app[REDIS], range_, request.app[CLOCK].time(), prices)


async def overview_page(request: web.Request, session: Session) -> web.StreamResponse:
    ov = await _overview(request)
    ctx = {
        "ov": ov,
        "chart": charts.time_series(ov.starts, ov.series, ov.bucket_s),
        "ranges": list(queries.RANGES),
    }
    # The page's script refreshes only the live part (?partial=1).
    name = (
        "dashboard/_overview_live.html"
        if request.query.get("partial")
        else "dashboard/overview.html"
    )
    return render(name, request, session, ctx)


async def overview_api(request: web.Request, session: Session) -> web.StreamResponse:
    return web.json_response((await _overview(request)).as_json())
