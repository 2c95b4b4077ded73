"""Headless Chromium for page tests (PIN step, dashboard), through Python playwright.

Uses the system Chromium (/usr/bin/chromium), never a downloaded one (`playwright install` is not
run). Tests that use it are marked `@pytest.mark.browser` and skip with a reason without it:

    from tests.browser import launch_chromium, needs_chromium

    @needs_chromium
    @pytest.mark.browser
    async def test_page(aiohttp_server):
        async with launch_chromium() as browser:
            page = await browser.new_page()
            ...
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path(os.environ.get("SMSGUARD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (install chromium or set SMSGUARD_CHROMIUM)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if shutil.which(str(CHROMIUM)) is None and not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not executable"
    return None


needs_chromium = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """Start headless system Chromium; yield a playwright `Browser`; close everything after."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


README_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "img"


def readme_screenshot(name: str, tmp_path: Path) -> Path:
    """Where a test saves a picture the README shows: docs/img under `make screenshots`
    (SMSGUARD_README_SCREENSHOTS=1), else the test's tmp folder, leaving `make test` clean."""
    folder = README_IMAGES if os.environ.get("SMSGUARD_README_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def csp_errors(page: Page) -> list[str]:
    """The Content-Security-Policy violations `page` reports on its console from now on."""
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return errors


async def log_in(page: Page, user: str, password: str) -> None:
    """Fill in and send the dashboard's login form the page shows."""
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
