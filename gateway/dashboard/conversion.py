"""The Conversion page: sent vs completed codes over time, conversion by country and by range
against the destination's 14-day baseline, the automatic blocks in force (lift or extend, audited
like every override) and what the outcome rules and auto-block entries did or would have done.
Its JSON twin is /dashboard/api/conversion. What it reads: convfigures.py."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.appkeys import CLOCK, DASHBOARD, FEEDBACK, OVERRIDES, POLICY, REDIS
from gateway.dashboard import charts
from gateway.dashboard.auth import Session
from gateway.dashboard.convfigures import (
    AutoBlock,
    Conversion,
    ConversionQuery,
    ParamError,
    lookups,
    window_of,
)
from gateway.dashboard.page import BASE, render, see_other
from gateway.logs import get_logger
from gateway.overrides import OverrideError
from gateway.policy.engine import RuleEngine
from gateway.policy.ruleset import RuleSet

log = get_logger("gateway.dashboard")

PATH = f"{BASE}/conversion"
WINDOW_NAMES = {"1h": "last hour", "24h": "last 24 hours", "14d": "last 14 days"}
# An automatic block set again runs this long from now (the watcher's own blocks last hours).
EXTENSIONS = {"2h": 7200, "24h": 86_400, "7d": 7 * 86_400}
NOT_READY = "the feedback counters' key is not known yet (Redis unreachable at start-up?); retry"
LIFT_REASON = "lifted on the Conversion page"
# The page's own notices (only these codes are shown, like the other pages' notices).
NOTICES = {
    "block-lifted": "Automatic block lifted on every instance.",
    "block-extended": "Automatic block set again with the later expiry.",
    "block-gone": "That block was already gone (lifted or expired).",
}


def _rules(request: web.Request) -> RuleSet | None:
    engine = request.app.get(POLICY)
    return engine.rules if isinstance(engine, RuleEngine) else None


def _query(request: web.Request) -> ConversionQuery:
    keys = request.app[FEEDBACK].store.keys
    return ConversionQuery(request.app[REDIS], keys, request.app[OVERRIDES])


async def _read(request: web.Request) -> Conversion | None:
    """The page's figures; None while the counters' key is not known (nothing readable yet)."""
    window = window_of(request.query.get("window", "24h"))
    wanted = lookups(request.query.get("range", "")[:200])
    query = _query(request)
    if not query.keys.ready:
        return None
    return await query.read(window, request.app[CLOCK].time(), _rules(request), wanted)


async def conversion_page(request: web.Request, session: Session) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    status = 200
    try:
        conv = await _read(request)
        error = None if conv is not None else NOT_READY
    except ParamError as exc:
        conv, error, status = None, str(exc), 400
    if conv is None and status == 200:
        status = 503
    context: dict[str, object] = {
        "conv": conv,
        "error": error,
        "windows": WINDOW_NAMES,
        "window": request.query.get("window", "24h"),
        "asked": request.query.get("range", "")[:200],
        "extensions": list(EXTENSIONS),
        "feedback_on": dash.settings.feedback.log_stream.authorization is not None,
        "notice": NOTICES.get(request.query.get("notice", ""), ""),
    }
    if conv is not None:
        s = conv.series
        context["chart"] = charts.time_series(
            s.starts, {"sent": s.sent, "completed": s.completed}, s.bucket_s
        )
    return render("dashboard/conversion.html", request, session, context, status=status)


async def conversion_api(request: web.Request, session: Session) -> web.StreamResponse:
    try:
        conv = await _read(request)
    except ParamError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    if conv is None:
        return web.json_response({"error": NOT_READY}, status=503)
    return web.json_response(conv.as_json())


async def _auto_block(request: web.Request, oid: str) -> AutoBlock | None:
    """The automatic block `oid` if it is one in force (this page lifts nothing else)."""
    blocks = await _query(request).blocks(_rules(request), request.app[CLOCK].time())
    return next((b for b in blocks if b.override.id == oid), None)


def _back(notice: str) -> web.Response:
    return see_other(f"{PATH}?{urlencode({'notice': notice})}")


async def lift_block(request: web.Request, session: Session) -> web.StreamResponse:
    """Remove an automatic block on every instance; audited with the operator's name."""
    form = await request.post()
    block = await _auto_block(request, request.match_info["oid"])
    if block is None:
        return _back("block-gone")
    reason = str(form.get("reason", "")).strip()[:500] or LIFT_REASON
    removed = await request.app[OVERRIDES].remove(
        block.override.id, author=session.user, reason=reason
    )
    log.info(
        "auto-block lifted", user=session.user, id=block.override.id, target=block.override.shown
    )
    return _back("block-lifted" if removed else "block-gone")


async def extend_block(request: web.Request, session: Session) -> web.StreamResponse:
    """Set an automatic block again with a later expiry (same target and figures), audited."""
    form = await request.post()
    choice = str(form.get("for", ""))
    if choice not in EXTENSIONS:
        return web.Response(
            status=400, text=f"for: {choice[:20]!r} is not one of {', '.join(EXTENSIONS)}"
        )
    block = await _auto_block(request, request.match_info["oid"])
    if block is None:
        return _back("block-gone")
    o = block.override
    try:
        new = await request.app[OVERRIDES].add(
            o.kind,
            o.value,
            "block",
            reason=o.reason,
            author=session.user,
            expires_in_s=EXTENSIONS[choice],
        )
    except OverrideError as exc:
        return web.Response(status=400, text=str(exc))
    await request.app[OVERRIDES].note(
        "extend auto-block",
        author=session.user,
        reason=f"set again for {choice} on the Conversion page",
        id=new.id,
        kind=new.kind,
        value=new.shown,
        action="block",
        expires_at=new.expires_at,
    )
    log.info(
        "auto-block extended",
        user=session.user,
        id=new.id,
        target=new.shown,
        expires_at=new.expires_at,
    )
    return _back("block-extended")
