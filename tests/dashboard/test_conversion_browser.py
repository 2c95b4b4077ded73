"""The Conversion page in headless Chromium: figures and an automatic block after real traffic,
lifted in one click, with no Content-Security-Policy error."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.clock import FakeClock
from tests.browser import csp_errors, launch_chromium, log_in, needs_chromium, readme_screenshot
from tests.dashboard.conftest import PASSWORD, USER, Client, send
from tests.dashboard.convtraffic import (
    NEXT_PUMPED,
    PUMPED,
    PUMPED_RANGE,
    USERS,
    conversion_settings,
    pumping_and_logins,
)


@needs_chromium
@pytest.mark.browser
async def test_conversion_page_shows_figures_and_lifts_an_automatic_block(
    aiohttp_client: Callable[[TestServer], Awaitable[Client]],
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """Log in, read the figures and the block of the pumped range, lift it: the range is open."""
    clock = FakeClock(float(int(time.time())))
    app: web.Application = create_app(
        conversion_settings(redis_url, tmp_path / "rules"), clock=clock
    )
    server = await aiohttp_server(app)
    client = await aiohttp_client(server)
    await pumping_and_logins(client, clock)
    assert await send(client, NEXT_PUMPED) == 403
    base = str(server.make_url("/dashboard"))

    async with launch_chromium() as browser:
        context = await browser.new_context(viewport={"width": 1440, "height": 1100})
        page = await context.new_page()
        csp = csp_errors(page)
        await page.goto(f"{base}/conversion?window=1h")
        await log_in(page, USER, PASSWORD)
        await page.wait_for_selector("#auto-blocks")
        assert "/dashboard/conversion" in page.url

        assert await page.inner_text("#total-sent") == str(len(USERS) + len(PUMPED))
        assert await page.inner_text("#total-completed") == "4"
        assert await page.locator("svg.chart polyline[data-series=completed]").count() == 1
        countries = await page.inner_text("#countries")
        assert "GB" in countries
        assert "67%" in countries
        assert PUMPED_RANGE in await page.inner_text("#ranges")
        blocks = await page.inner_text("#auto-blocks")
        assert PUMPED_RANGE in blocks
        assert "8 codes, 0 logins in 1h" in blocks
        assert "would auto-block" in await page.inner_text("#auto-block-log")
        assert "unverified-watch" in await page.inner_text("#outcome-rules")
        await page.mouse.move(0, 0)
        shot = readme_screenshot("dashboard-conversion.png", tmp_path)
        await page.screenshot(path=str(shot), full_page=True)

        await page.click("button[data-lift]")
        await page.wait_for_selector("text=Automatic block lifted on every instance.")
        assert "no automatic block in force" in await page.inner_text("#auto-blocks")
        assert await send(client, NEXT_PUMPED) == 200
        await page.goto(f"{base}/actions")
        assert "lifted on the Conversion page" in await page.inner_text("#audit")
        assert csp == []
        await context.close()
