"""Dashboard pages, actions, JSON API and CSV export, all behind the login.

Pages are rendered on the server (aiohttp-jinja2) and work without JavaScript; a small script of
ours (static/dashboard/dashboard.js) refreshes the live part of the overview and events pages.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.appkeys import CLOCK, OVERRIDES, POLICY, REDIS
from gateway.clientip import client_ip
from gateway.dashboard import charts, queries
from gateway.dashboard.auth import (
    COOKIE,
    LOGIN_COOKIE,
    AuthedHandler,
    Authenticator,
    LoginLimiter,
    Session,
    SessionStore,
    csrf_ok,
    set_cookie,
)
from gateway.logs import get_logger
from gateway.overrides import KINDS, OverrideError, Overrides
from gateway.pin import admin as pin_admin
from gateway.pin.store import PinStore
from gateway.policy.engine import RuleEngine
from gateway.prices import shipped_prices
from gateway.settings import Settings
from gateway.web import DEFAULT_CSP, security_headers

log = get_logger("gateway.dashboard")

BASE = "/dashboard"
# The pages' own script polls the JSON/partial endpoints: allow fetches back to us, nothing else.
CSP = DEFAULT_CSP + "; connect-src 'self'"
EXPIRIES = {"": None, "15m": 900, "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
PAGE_SIZE = 50
CSV_MAX = 10_000
HSTS = "max-age=31536000"
# Messages shown after an action: the redirect carries only one of these codes (?notice=code),
# so nobody can craft a link that shows a message of their choosing on our pages.
NOTICES = {
    "override-applied": "Override applied on every instance.",
    "override-removed": "Override removed.",
    "override-gone": "That override was already gone.",
    "pin-unlocked": "PIN unlocked: the user keeps their PIN.",
    "pin-not-locked": "That user's PIN was not locked; nothing changed.",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def see_other(location: str) -> web.Response:
    """A 303 redirect, returned (not raised) so security headers and cookies can be added."""
    return web.Response(status=303, headers={"Location": location})


def _safe_back(value: object, default: str) -> str:
    """Only our own dashboard paths are redirect targets."""
    text = str(value or "")
    if text.startswith(BASE) and not text.startswith("//") and "\\" not in text:
        return text
    return default


class Dashboard:
    """The dashboard's handlers; Redis-backed parts are built at startup."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Money saved uses the shipped per-country table under the operator's own `prices:`.
        self.prices = shipped_prices().with_settings(settings.prices).as_settings()
        self.auth = Authenticator(settings.dashboard)
        self._sessions: SessionStore | None = None
        self._limiter: LoginLimiter | None = None

    def start(self, app: web.Application) -> None:
        self._sessions = SessionStore(app[REDIS], self.settings.dashboard, app[CLOCK])
        self._limiter = LoginLimiter(app[REDIS], self.settings.dashboard, app[CLOCK])

    @property
    def sessions(self) -> SessionStore:
        assert self._sessions is not None, "dashboard used before startup"
        return self._sessions

    @property
    def limiter(self) -> LoginLimiter:
        assert self._limiter is not None, "dashboard used before startup"
        return self._limiter

    # -- plumbing ---------------------------------------------------------------------------------

    def secure(self, response: web.StreamResponse) -> web.StreamResponse:
        security_headers(response, CSP)
        if self.settings.dashboard.cookie_secure:  # served over HTTPS (the cookie needs it)
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    def guard(self, handler: AuthedHandler, *, api: bool = False) -> Handler:
        """Require a live session (and, on POST, its CSRF token) before `handler` runs."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                session = await self.sessions.load(request.cookies.get(COOKIE))
                if session is not None and not self.auth.session_valid(session):
                    # The user was removed from the settings or has a new password.
                    await self.sessions.destroy(session)
                    log.info("dashboard session ended: user removed or password changed")
                    session = None
            except RedisError:
                return self.secure(web.Response(status=503, text="session store unavailable"))
            if session is None:
                if api or request.method != "GET":
                    return self.secure(web.json_response({"error": "login required"}, status=401))
                target = f"{BASE}/login?{urlencode({'next': request.path_qs})}"
                return self.secure(see_other(target))
            if request.method == "POST":
                form = await request.post()
                if not csrf_ok(session.csrf, form.get("csrf")):
                    return self.secure(web.Response(status=403, text="CSRF token missing or wrong"))
            try:
                return self.secure(await handler(request, session))
            except RedisError as exc:
                log.warning("dashboard: Redis unavailable", error=str(exc), path=request.path)
                return self.secure(web.Response(status=503, text="Redis is unavailable; retry"))

        return wrapped

    def render(
        self,
        name: str,
        request: web.Request,
        session: Session | None,
        context: dict[str, Any],
        status: int = 200,
    ) -> web.Response:
        base = {
            "user": session.user if session else None,
            "csrf": session.csrf if session else "",
            "refresh_s": self.settings.dashboard.refresh_s,
            "path": request.path,
            "path_qs": request.path_qs,
            "bar": charts.bar,
            "iso": queries.iso,
            "signal_columns": queries.SIGNAL_COLUMNS,
            "signal_filters": queries.SIGNAL_FILTERS,
            "notice": NOTICES.get(request.query.get("notice", ""), ""),
        }
        base.update(context)
        response = aiohttp_jinja2.render_template(name, request, base)
        response.set_status(status)
        return response

    @staticmethod
    def _redis(request: web.Request) -> Redis:
        return request.app[REDIS]

    @staticmethod
    def _overrides(request: web.Request) -> Overrides:
        overrides = request.app[OVERRIDES]
        assert isinstance(overrides, Overrides)
        return overrides

    # -- login ------------------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(LOGIN_COOKIE) or ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
        response = self.render(
            "dashboard/login.html",
            request,
            None,
            {
                "login_csrf": token,
                "next": _safe_back(request.query.get("next"), BASE),
                "error": None,
            },
        )
        set_cookie(
            response,
            LOGIN_COOKIE,
            token,
            secure=self.settings.dashboard.cookie_secure,
            max_age=3600,
        )
        return self.secure(response)

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not csrf_ok(cookie, form.get("csrf")):
            return self.secure(web.Response(status=403, text="CSRF token missing or wrong"))
        username = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        next_url = _safe_back(form.get("next"), BASE)
        ip = client_ip(request, self.settings.dashboard.trusted_proxy_hops)

        def again(message: str, status: int) -> web.StreamResponse:
            return self.secure(
                self.render(
                    "dashboard/login.html",
                    request,
                    None,
                    {"login_csrf": cookie, "next": next_url, "error": message},
                    status=status,
                )
            )

        try:
            return await self._login(request, username, password, next_url, ip, again)
        except RedisError as exc:
            log.warning("dashboard login: Redis unavailable", error=str(exc))
            return again("The session store is unavailable. Try again shortly.", 503)

    async def _login(
        self,
        request: web.Request,
        username: str,
        password: str,
        next_url: str,
        ip: str,
        again: Callable[[str, int], web.StreamResponse],
    ) -> web.StreamResponse:
        # Counted before the (slow) password check, so parallel guesses cannot pass the limits.
        gate = await self.limiter.begin(ip, username)
        if not gate.allowed:
            log.warning("dashboard login refused: too many failures", ip=ip, why=gate.why)
            return again("Too many failed attempts. Try again later.", 429)
        if not await self.auth.check(username, password):
            log.info("dashboard login failed", ip=ip)
            return again("Wrong username or password.", 401)
        await self.limiter.succeeded(ip, username)
        token, _ = await self.sessions.create(username, self.auth.tag(username) or "")
        log.info("dashboard login", user=username, ip=ip)
        response = see_other(next_url)
        set_cookie(
            response,
            COOKIE,
            token,
            secure=self.settings.dashboard.cookie_secure,
            max_age=self.sessions.max_s,
        )
        response.del_cookie(LOGIN_COOKIE, path="/dashboard")
        return self.secure(response)

    async def logout(self, request: web.Request, session: Session) -> web.StreamResponse:
        await self.sessions.destroy(session)
        response = see_other(f"{BASE}/login")
        response.del_cookie(COOKIE, path="/dashboard")
        return response

    # -- overview ---------------------------------------------------------------------------------

    async def _overview(self, request: web.Request) -> queries.Overview:
        range_ = request.query.get("range", "hour")
        return await queries.overview(
            self._redis(request), range_, request.app[CLOCK].time(), self.prices
        )

    async def overview_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        ov = await self._overview(request)
        ctx = {
            "ov": ov,
            "chart": charts.time_series(ov.starts, ov.series, ov.bucket_s),
            "ranges": list(queries.RANGES),
        }
        name = (
            "dashboard/_overview_live.html"
            if request.query.get("partial")
            else ("dashboard/overview.html")
        )
        return self.render(name, request, session, ctx)

    async def overview_api(self, request: web.Request, session: Session) -> web.StreamResponse:
        return web.json_response((await self._overview(request)).as_json())

    # -- events -----------------------------------------------------------------------------------

    async def _events(self, request: web.Request) -> tuple[queries.EventFilter, queries.EventPage]:
        flt = queries.EventFilter.from_query(request.query)
        page = await queries.find_events(
            self._redis(request),
            flt,
            before=request.query.get("before", "")[:40],
            limit=min(int(request.query.get("limit", PAGE_SIZE) or PAGE_SIZE), 500),
        )
        return flt, page

    async def events_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        try:
            flt, page = await self._events(request)
        except (queries.FilterError, ValueError) as exc:
            flt, page = queries.EventFilter(), queries.EventPage([], None, 0)
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
        name = (
            "dashboard/_events_live.html"
            if request.query.get("partial")
            else ("dashboard/events.html")
        )
        return self.render(name, request, session, ctx, status=400 if error else 200)

    async def events_api(self, request: web.Request, session: Session) -> web.StreamResponse:
        try:
            _, page = await self._events(request)
        except (queries.FilterError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(
            {
                "events": [e.as_dict() for e in page.events],
                "next_before": page.next_before,
                "scanned": page.scanned,
            }
        )

    async def event_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        event = await queries.get_event(self._redis(request), request.match_info["sid"])
        if event is None:
            return self.render("dashboard/missing.html", request, session, {}, status=404)
        return self.render(
            "dashboard/event.html",
            request,
            session,
            {"e": event, "raw": json.dumps(event.as_dict(), indent=2, sort_keys=True)},
        )

    async def event_api(self, request: web.Request, session: Session) -> web.StreamResponse:
        event = await queries.get_event(self._redis(request), request.match_info["sid"])
        if event is None:
            return web.json_response({"error": "no such event"}, status=404)
        return web.json_response(event.as_dict())

    async def events_csv(self, request: web.Request, session: Session) -> web.StreamResponse:
        try:
            flt = queries.EventFilter.from_query(request.query)
            page = await queries.find_events(
                self._redis(request), flt, limit=CSV_MAX, scan_limit=CSV_MAX * 10
            )
        except (queries.FilterError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(queries.CSV_COLUMNS)
        for event in page.events:
            writer.writerow(queries.csv_row(event))
        return web.Response(
            text=buffer.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="smsguard-events.csv"'},
        )

    # -- rules ------------------------------------------------------------------------------------

    async def _rules(self, request: web.Request) -> RulesView:
        range_ = request.query.get("range", "day")
        hits, shadow = await queries.rule_counts(
            self._redis(request), range_, request.app[CLOCK].time()
        )
        return rules_view(request.app[POLICY], hits, shadow, range_)

    async def rules_page(self, request: web.Request, session: Session) -> web.StreamResponse:
        info = await self._rules(request)
        return self.render(
            "dashboard/rules.html", request, session, {"info": info, "ranges": list(queries.RANGES)}
        )

    async def rules_api(self, request: web.Request, session: Session) -> web.StreamResponse:
        return web.json_response((await self._rules(request)).as_json())

    # -- actions ----------------------------------------------------------------------------------

    async def actions_page(
        self,
        request: web.Request,
        session: Session,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        overrides = self._overrides(request)
        try:
            async with pin_store(request.app, self.settings) as store:
                pin_log: list[pin_admin.AuditEntry] | None = await pin_admin.read_audit(store, 20)
        except (RedisError, OSError) as exc:
            log.warning("dashboard: PIN store unavailable", error=str(exc))
            pin_log = None
        return self.render(
            "dashboard/actions.html",
            request,
            session,
            {
                "overrides": overrides.active(),
                "audit": await overrides.audit(100),
                "kinds": KINDS,
                "expiries": list(EXPIRIES),
                "error": error,
                "prefill": {k: request.query.get(k, "")[:100] for k in ("kind", "value", "action")},
                "pin_enabled": self.settings.pin.enabled,
                "pin_log": pin_log,
            },
            status=status,
        )

    async def actions_get(self, request: web.Request, session: Session) -> web.StreamResponse:
        return await self.actions_page(request, session)

    async def add_override(self, request: web.Request, session: Session) -> web.StreamResponse:
        form = await request.post()
        expiry = str(form.get("expires", ""))
        if expiry not in EXPIRIES:
            return await self.actions_page(request, session, error="unknown expiry", status=400)
        try:
            o = await self._overrides(request).add(
                str(form.get("kind", "")),
                str(form.get("value", "")),
                str(form.get("action", "block")),
                reason=str(form.get("reason", "")),
                author=session.user,
                expires_in_s=EXPIRIES[expiry],
                confirm_broad=form.get("confirm_broad") == "yes",
            )
        except OverrideError as exc:
            return await self.actions_page(request, session, error=str(exc), status=400)
        log.info("dashboard override", user=session.user, id=o.id, kind=o.kind, value=o.shown)
        back = _safe_back(form.get("back"), f"{BASE}/actions")
        sep = "&" if "?" in back else "?"
        return see_other(f"{back}{sep}{urlencode({'notice': 'override-applied'})}")

    async def remove_override(self, request: web.Request, session: Session) -> web.StreamResponse:
        form = await request.post()
        removed = await self._overrides(request).remove(
            request.match_info["oid"], author=session.user, reason=str(form.get("reason", ""))
        )
        notice = "override-removed" if removed else "override-gone"
        return see_other(f"{BASE}/actions?{urlencode({'notice': notice})}")

    async def pin_unlock(self, request: web.Request, session: Session) -> web.StreamResponse:
        form = await request.post()
        sub = str(form.get("user_id", "")).strip()[:200]
        reason = str(form.get("reason", "")).strip()[:500]
        if not sub or not reason:
            return await self.actions_page(
                request, session, error="unlock: the user id and a reason are required", status=400
            )
        async with pin_store(request.app, self.settings) as store:
            cleared = await pin_admin.unlock(
                store, sub, operator=session.user, reason=reason, via="dashboard"
            )
        await self._overrides(request).note(
            "pin-unlock", author=session.user, reason=reason, target=sub, cleared=cleared
        )
        notice = "pin-unlocked" if cleared else "pin-not-locked"
        return see_other(f"{BASE}/actions?{urlencode({'notice': notice})}")

    async def overrides_api(self, request: web.Request, session: Session) -> web.StreamResponse:
        overrides = self._overrides(request)
        return web.json_response(
            {
                "overrides": [o.public() for o in overrides.active()],
                "audit": await overrides.audit(200),
            }
        )


@contextlib.asynccontextmanager
async def pin_store(app: web.Application, settings: Settings) -> AsyncIterator[PinStore]:
    """The PIN records the PIN step uses (the running step's store when it is on)."""
    from gateway.pin import PIN_STEP

    step = app.get(PIN_STEP)
    running = step.service.store if step is not None else None
    async with pin_admin.open_store(settings, running=running, shared=app[REDIS]) as store:
        yield store


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One rule on the Rules page: the engine's RuleInfo with its hits in the range."""

    id: str
    description: str
    action: str
    mode: str
    velocity: str
    file: str
    hits: int
    would: dict[str, int]  # shadow rules: "would have <action>" counts


@dataclass(frozen=True, slots=True)
class RulesView:
    """What the Rules page and /dashboard/api/rules show."""

    engine: str
    version: str
    loaded_at: float
    last_error: str | None
    last_error_at: float | None
    files: tuple[str, ...]
    default: str
    rules: list[RuleRow]
    other_hits: list[tuple[str, int]]  # deciders that are not rules (overrides), most hits first
    range: str

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["other_hits"] = [{"rule": r, "hits": n} for r, n in self.other_hits]
        return data


def rules_view(
    policy: RuleEngine, hits: dict[str, int], shadow: dict[str, int], range_: str
) -> RulesView:
    """The engine's typed summary joined with the decision counts of `range_`."""
    summary = policy.summary()
    rows = [
        RuleRow(
            id=r.id,
            description=r.description,
            action=r.action,
            mode=r.mode,
            velocity=r.velocity,
            file=r.file,
            hits=hits.get(r.id, 0),
            would={k.split("|", 1)[1]: n for k, n in shadow.items() if k.split("|", 1)[0] == r.id},
        )
        for r in summary.rules
    ]
    known = {r.id for r in rows}
    return RulesView(
        engine=type(policy).__name__,
        version=summary.version,
        loaded_at=summary.loaded_at,
        last_error=summary.last_error,
        last_error_at=summary.last_error_at,
        files=summary.files,
        default=summary.default,
        rules=rows,
        other_hits=sorted(((r, n) for r, n in hits.items() if r not in known), key=lambda x: -x[1]),
        range=range_ if range_ in queries.RANGES else "day",
    )
