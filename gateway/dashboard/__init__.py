"""The security team's dashboard: what was blocked, why, and what to do about it.

Off (404) unless `dashboard.users` lists at least one user. Pages under /dashboard, JSON under
/dashboard/api, static files under /static/dashboard. Overrides (gateway/overrides/) are installed
by the app factory whether or not the dashboard is on, so every instance applies them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import SETTINGS
from gateway.dashboard.views import BASE, Dashboard
from gateway.logs import get_logger
from gateway.web import setup_static, setup_templates

log = get_logger("gateway.dashboard")

DASHBOARD: web.AppKey[Dashboard] = web.AppKey("dashboard", Dashboard)


def setup(app: web.Application) -> None:
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
    dash = Dashboard(settings)
    app[DASHBOARD] = dash

    async def start(app: web.Application) -> AsyncIterator[None]:
        dash.start(app)
        yield

    app.cleanup_ctx.append(start)
    g = dash.guard
    r = app.router
    r.add_get(f"{BASE}/login", dash.login_form)
    r.add_post(f"{BASE}/login", dash.login)
    r.add_post(f"{BASE}/logout", g(dash.logout))
    r.add_get(BASE, g(dash.overview_page))
    r.add_get(f"{BASE}/", g(dash.overview_page))
    r.add_get(f"{BASE}/events", g(dash.events_page))
    r.add_get(f"{BASE}/events/{{sid}}", g(dash.event_page))
    r.add_get(f"{BASE}/rules", g(dash.rules_page))
    r.add_get(f"{BASE}/actions", g(dash.actions_get))
    r.add_post(f"{BASE}/actions/overrides", g(dash.add_override))
    r.add_post(f"{BASE}/actions/overrides/{{oid}}/remove", g(dash.remove_override))
    r.add_post(f"{BASE}/actions/pin-unlock", g(dash.pin_unlock))
    r.add_get(f"{BASE}/api/overview", g(dash.overview_api, api=True))
    r.add_get(f"{BASE}/api/events", g(dash.events_api, api=True))
    r.add_get(f"{BASE}/api/events.csv", g(dash.events_csv, api=True))
    r.add_get(f"{BASE}/api/events/{{sid}}", g(dash.event_api, api=True))
    r.add_get(f"{BASE}/api/rules", g(dash.rules_api, api=True))
    r.add_get(f"{BASE}/api/overrides", g(dash.overrides_api, api=True))
    log.info("dashboard on", path=BASE, users=len(settings.dashboard.users))
