"""The Spend page in headless Chromium: real messages through POST /sms against a budget rule,
then the page shows the spend per country and route, the budget's progress, the change that set
the budget, and the alerts its filling raised."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from tests.browser import launch_chromium, needs_chromium
from tests.dashboard.conftest import PASSWORD, USER, Client, gateway_settings, send

BUDGET = """\
rules:
  - id: budget-all
    description: twenty cents a day
    budget: {max: 0.20, per: day}
    action: block
default: allow
"""


@needs_chromium
@pytest.mark.browser
async def test_spend_page_shows_spend_budget_changes_and_alerts(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: Callable[[TestServer], Awaitable[Client]],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """Five 4-cent GB messages fill a 20-cent budget, the sixth is refused; the page says so."""
    settings = gateway_settings(redis_url, tmp_path / "rules")
    (tmp_path / "rules" / "rules.yaml").write_text(BUDGET)
    server = await aiohttp_server(create_app(settings))
    client = await aiohttp_client(server)
    statuses = [await send(client, f"+4474001234{n:02d}") for n in range(6)]
    assert statuses == [200] * 5 + [429]
    base = str(server.make_url("/dashboard"))

    async with launch_chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base}/spend")
        assert "/dashboard/login" in page.url  # behind the login like every page
        await page.fill("input[name=username]", USER)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.goto(f"{base}/spend")

        budgets = await page.inner_text("#budgets")
        assert "budget-all" in budgets
        assert "$0.20" in budgets
        assert "100%" in budgets
        assert "$0.20" in await page.inner_text(".spend-total >> nth=0")
        assert "GB" in await page.inner_text(".spend-countries >> nth=0")
        assert "sandbox" in await page.inner_text(".spend-routes >> nth=0")
        # Alerts and the audit are written off the request path: reload until they are there.
        for _ in range(100):
            pending = [
                t
                for t in ("#alerts-sent", "#budget-audit")
                if await page.query_selector(f"{t} .empty")
            ]
            if not pending:
                break
            await asyncio.sleep(0.2)
            await page.reload()
        assert "global: $0.20 daily (UTC), block" in await page.inner_text("#budget-audit")
        alerts = await page.inner_text("#alerts-sent")
        assert "Daily budget overall reached" in alerts
        assert "Daily budget overall at 80%" in alerts
