"""The event log: filtered, paged events (page, JSON, CSV export) and one event in full."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

from aiohttp import web

from gateway.appkeys import REDIS
from gateway.dashboard import eventsearch, export, queries
from gateway.dashboard.auth import Session
from gateway.dashboard.page import BASE, render

PAGE_SIZE = 50
CSV_MAX = 10_000


async def _events(request: web.Request) -> tuple[eventsearch.EventFilter, eventsearch.EventPage]:
    flt = eventsearch.EventFilter.from_query(request.query)
    page = await eventsearch.find_events(
        request.app[REDIS],
        flt,
        before=request.query.get("before", "")[:40],
        limit=min(int(request.query.get("limit", PAGE_SIZE) or PAGE_SIZE), 500),
    )
    return flt, page


async def events_page(request: web.Request, session: Session) -> web.StreamResponse:
    try:
        flt, page = await _events(request)
    except (eventsearch.FilterError, ValueError) as exc:
        flt, page = eventsearch.EventFilter(), eventsearch.EventPage([], None, 0)
        error: str | None = str(exc)
    else:
        error = None
    params = flt.params()
    ctx = {
        "flt": flt,
        "page": page,
        "error": error,
        "actions": queries.SERIES,
        "live": not request.query.get("before"),
        "next_url": (
            f"{BASE}/events?{urlencode({**params, 'before': page.next_before})}"
            if page.next_before
            else None
        ),
        "csv_url": f"{BASE}/api/events.csv?{urlencode(params)}",
    }
    # The page's script refreshes only the live part (?partial=1).
    name = (
        "dashboard/_events_live.html" if request.query.get("partial") else "dashboard/events.html"
    )
    return render(name, request, session, ctx, status=400 if error else 200)


async def events_api(request: web.Request, session: Session) -> web.StreamResponse:
    try:
        _, page = await _events(request)
    except (eventsearch.FilterError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(
        {
            "events": [e.as_dict() for e in page.events],
            "next_before": page.next_before,
            "scanned": page.scanned,
        }
    )


async def event_page(request: web.Request, session: Session) -> web.StreamResponse:
    event = await eventsearch.get_event(request.app[REDIS], request.match_info["sid"])
    if event is None:
        return render("dashboard/missing.html", request, session, {}, status=404)
    raw = json.dumps(event.as_dict(), indent=2, sort_keys=True)
    return render("dashboard/event.html", request, session, {"e": event, "raw": raw})


async def event_api(request: web.Request, session: Session) -> web.StreamResponse:
    event = await eventsearch.get_event(request.app[REDIS], request.match_info["sid"])
    if event is None:
        return web.json_response({"error": "no such event"}, status=404)
    return web.json_response(event.as_dict())


async def events_csv(request: web.Request, session: Session) -> web.StreamResponse:
    try:
        flt = eventsearch.EventFilter.from_query(request.query)
        page = await eventsearch.find_events(
            request.app[REDIS], flt, limit=CSV_MAX, scan_limit=CSV_MAX * 10
        )
    except (eventsearch.FilterError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export.CSV_COLUMNS)
    for event in page.events:
        writer.writerow(export.csv_row(event))
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="smsguard-events.csv"'},
    )
