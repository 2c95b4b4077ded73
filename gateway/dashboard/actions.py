"""The Actions page: overrides (block or allow on every instance) and PIN unlocks, with their audit
logs. PIN administration itself lives in gateway/pin/admin.py, shared with `smsguard pin`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import DASHBOARD, OVERRIDES, PIN_STEP, REDIS
from gateway.dashboard.auth import Session
from gateway.dashboard.page import BASE, render, safe_back, see_other
from gateway.logs import get_logger
from gateway.overrides import KINDS, OverrideError
from gateway.pin import admin as pin_admin
from gateway.pin.store import PinStore

log = get_logger("gateway.dashboard")

EXPIRIES = {"": None, "15m": 900, "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


@contextlib.asynccontextmanager
async def _pin_store(request: web.Request) -> AsyncIterator[PinStore]:
    """The PIN records the PIN step uses (the running step's store when it is on)."""
    app = request.app
    step = app.get(PIN_STEP)
    running = step.service.store if step is not None else None
    settings = app[DASHBOARD].settings
    async with pin_admin.open_store(settings, running=running, shared=app[REDIS]) as store:
        yield store


async def _page(
    request: web.Request, session: Session, *, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    overrides = request.app[OVERRIDES]
    pin_log: list[pin_admin.AuditEntry] | None
    try:
        async with _pin_store(request) as store:
            pin_log = await pin_admin.read_audit(store, 20)
    except (RedisError, OSError) as exc:
        log.warning("dashboard: PIN store unavailable", error=str(exc))
        pin_log = None
    context = {
        "overrides": overrides.active(),
        "audit": await overrides.audit(100),
        "kinds": KINDS,
        "expiries": list(EXPIRIES),
        "error": error,
        "prefill": {k: request.query.get(k, "")[:100] for k in ("kind", "value", "action")},
        "pin_enabled": request.app[DASHBOARD].settings.pin.enabled,
        "pin_log": pin_log,
    }
    return render("dashboard/actions.html", request, session, context, status=status)


async def actions_page(request: web.Request, session: Session) -> web.StreamResponse:
    return await _page(request, session)


async def add_override(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    expiry = str(form.get("expires", ""))
    if expiry not in EXPIRIES:
        return await _page(request, session, error="unknown expiry", status=400)
    try:
        o = await request.app[OVERRIDES].add(
            str(form.get("kind", "")),
            str(form.get("value", "")),
            str(form.get("action", "block")),
            reason=str(form.get("reason", "")),
            author=session.user,
            expires_in_s=EXPIRIES[expiry],
            confirm_broad=form.get("confirm_broad") == "yes",
        )
    except OverrideError as exc:
        return await _page(request, session, error=str(exc), status=400)
    log.info("dashboard override", user=session.user, id=o.id, kind=o.kind, value=o.shown)
    back = safe_back(form.get("back"), f"{BASE}/actions")
    sep = "&" if "?" in back else "?"
    return see_other(f"{back}{sep}{urlencode({'notice': 'override-applied'})}")


async def remove_override(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    removed = await request.app[OVERRIDES].remove(
        request.match_info["oid"], author=session.user, reason=str(form.get("reason", ""))
    )
    notice = "override-removed" if removed else "override-gone"
    return see_other(f"{BASE}/actions?{urlencode({'notice': notice})}")


async def pin_unlock(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    sub = str(form.get("user_id", "")).strip()[:200]
    reason = str(form.get("reason", "")).strip()[:500]
    if not sub or not reason:
        error = "unlock: the user id and a reason are required"
        return await _page(request, session, error=error, status=400)
    async with _pin_store(request) as store:
        cleared = await pin_admin.unlock(
            store, sub, operator=session.user, reason=reason, via="dashboard"
        )
    await request.app[OVERRIDES].note(
        "pin-unlock", author=session.user, reason=reason, target=sub, cleared=cleared
    )
    notice = "pin-unlocked" if cleared else "pin-not-locked"
    return see_other(f"{BASE}/actions?{urlencode({'notice': notice})}")


async def overrides_api(request: web.Request, session: Session) -> web.StreamResponse:
    overrides = request.app[OVERRIDES]
    return web.json_response(
        {"overrides": [o.public() for o in overrides.active()], "audit": await overrides.audit(200)}
    )
