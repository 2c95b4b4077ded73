"""The security team's dashboard: what was blocked, why, and what to do about it.

Off (404) unless `dashboard.users` lists at least one user. Pages under /dashboard, JSON under
/dashboard/api, static files under /static/dashboard. Overrides (gateway/overrides/) are installed
by the app factory whether or not the dashboard is on, so every instance applies them.

What lives where:
    stage.py     app[DASHBOARD], built at start-up: settings, prices, passwords, sessions, limits
    auth.py      passwords (Argon2id), sessions in Redis, CSRF tokens, login limits
    guard.py     the session + CSRF check every handler but the login runs behind
    page.py      rendering, security headers, safe redirects, the fixed notices
    login.py     log in, log out
    overview.py  the overview (page, JSON)
    events.py    the event log's handlers: pages, JSON, one event, the CSV download
    rules.py     the Rules page: the engine's typed summary with hits per rule
    spend.py     the Spend page: spend, budgets' progress, budget changes, alerts sent
    conversion.py  the Conversion page (JSON twin; lift or extend an automatic block);
                 convfigures.py  what it reads (feedback counters, overrides, event aggregates)
    actions.py   overrides and PIN unlocks (PIN administration itself: gateway/pin/admin.py)
    queries.py   counts from the aggregates;  eventsearch.py  filters, pages, one event
    export.py    CSV rows and columns;  charts.py  SVG charts
    cli.py       `smsguard dashboard ...` (password hashes, overrides from a shell)
"""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import SETTINGS
from gateway.dashboard import actions, conversion, events, login, overview, rules, spend
from gateway.dashboard.guard import guard
from gateway.dashboard.page import BASE
from gateway.dashboard.stage import dashboard_ctx
from gateway.logs import get_logger
from gateway.web import setup_static, setup_templates

log = get_logger("gateway.dashboard")


def setup(app: web.Application) -> None:
    """Add the dashboard's routes and the cleanup context that builds app[DASHBOARD]."""
    settings = app[SETTINGS]
    if not settings.dashboard.users:
        log.info(
            "dashboard off",
            hint="add dashboard.users (username + password_hash from "
            "`smsguard dashboard hash-password`) to the settings to enable /dashboard",
        )
        return
    setup_templates(app)
    setup_static(app)
    app.cleanup_ctx.append(dashboard_ctx)
    r = app.router
    r.add_get(f"{BASE}/login", login.login_form)
    r.add_post(f"{BASE}/login", login.login)
    r.add_post(f"{BASE}/logout", guard(login.logout))
    r.add_get(BASE, guard(overview.overview_page))
    r.add_get(f"{BASE}/", guard(overview.overview_page))
    r.add_get(f"{BASE}/events", guard(events.events_page))
    r.add_get(f"{BASE}/events/{{sid}}", guard(events.event_page))
    r.add_get(f"{BASE}/rules", guard(rules.rules_page))
    r.add_get(f"{BASE}/spend", guard(spend.spend_page))
    r.add_get(f"{BASE}/actions", guard(actions.actions_page))
    r.add_post(f"{BASE}/actions/overrides", guard(actions.add_override))
    r.add_post(f"{BASE}/actions/overrides/{{oid}}/remove", guard(actions.remove_override))
    r.add_post(f"{BASE}/actions/pin-unlock", guard(actions.pin_unlock))
    r.add_get(f"{BASE}/conversion", guard(conversion.conversion_page))
    r.add_post(f"{BASE}/conversion/blocks/{{oid}}/lift", guard(conversion.lift_block))
    r.add_post(f"{BASE}/conversion/blocks/{{oid}}/extend", guard(conversion.extend_block))
    r.add_get(f"{BASE}/api/overview", guard(overview.overview_api, api=True))
    r.add_get(f"{BASE}/api/events", guard(events.events_api, api=True))
    r.add_get(f"{BASE}/api/events.csv", guard(events.events_csv, api=True))
    r.add_get(f"{BASE}/api/events/{{sid}}", guard(events.event_api, api=True))
    r.add_get(f"{BASE}/api/rules", guard(rules.rules_api, api=True))
    r.add_get(f"{BASE}/api/overrides", guard(actions.overrides_api, api=True))
    r.add_get(f"{BASE}/api/conversion", guard(conversion.conversion_api, api=True))
    log.info("dashboard on", path=BASE, users=len(settings.dashboard.users))
