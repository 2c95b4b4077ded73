"""The PIN page in headless Chromium, JavaScript off: enroll, verify, wrong PIN, lockout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.browser import launch_chromium, needs_chromium, readme_screenshot
from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import FakeAuth0

pytestmark = [pytest.mark.browser, needs_chromium]

ROOT = Path(__file__).resolve().parents[2]
GOOD = "480273"


async def test_enroll_verify_wrong_pin_and_lockout_in_chromium(
    make_gateway: MakeGateway, auth0: tuple[FakeAuth0, TestServer], tmp_path: Path
) -> None:
    """A real browser without JavaScript enrolls, verifies, sees a wrong PIN announced, locks."""
    fake = auth0[0]
    client = await make_gateway(max_failures=3)

    def pin_url(state: str) -> str:
        query = {"session_token": fake.session_token(), "state": state}
        return str(client.make_url("/pin").with_query(query))

    async with launch_chromium() as browser:
        context = await browser.new_context(
            java_script_enabled=False,
            viewport={"width": 420, "height": 760},
            locale="en-GB",
        )
        page = await context.new_page()

        # Enrollment: PIN and confirmation, policy explained, numeric keyboard.
        await page.goto(pin_url("st-enroll"))
        assert await page.inner_text("h1") == "Choose a PIN"
        pin_input = page.get_by_label("New PIN")
        assert await pin_input.get_attribute("inputmode") == "numeric"
        assert await pin_input.get_attribute("autocomplete") == "new-password"
        shot = readme_screenshot("pin-page.png", tmp_path)
        await page.screenshot(path=str(shot), full_page=True)
        await pin_input.fill(GOOD)
        await page.get_by_label("Repeat the PIN").fill(GOOD)
        await page.get_by_role("button", name="Save PIN and continue").click()
        await page.wait_for_url("**/continue?**")
        assert '"outcome": "enrolled"' in await page.inner_text("body")
        assert fake.continued[-1]["state"] == "st-enroll"

        # Verification with a wrong PIN: the error is an alert tied to the field.
        await page.goto(pin_url("st-verify"))
        assert await page.inner_text("h1") == "Enter your PIN"
        verify_input = page.get_by_label("PIN", exact=True)
        assert await verify_input.get_attribute("autocomplete") == "current-password"
        await page.get_by_label("PIN", exact=True).fill("111290")
        await page.get_by_role("button", name="Continue").click()
        alert = page.get_by_role("alert")
        assert "2 attempts left" in await alert.inner_text()
        described = await page.get_by_label("PIN", exact=True).get_attribute("aria-describedby")
        assert "pin-error" in (described or "").split()
        await page.screenshot(path=str(tmp_path / "pin-wrong.png"), full_page=True)

        # The right PIN resumes the login.
        await page.get_by_label("PIN", exact=True).fill(GOOD)
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_url("**/continue?**")
        assert '"outcome": "verified"' in await page.inner_text("body")

        # Three wrong PINs lock it: the page says what to do and offers the way back.
        await page.goto(pin_url("st-lock"))
        for attempt in ("111290", "111291", "111292"):
            await page.get_by_label("PIN", exact=True).fill(attempt)
            await page.get_by_role("button", name="Continue").click()
        assert await page.inner_text("h1") == "PIN locked"
        assert "Contact support" in await page.get_by_role("alert").inner_text()
        await page.screenshot(path=str(tmp_path / "pin-locked.png"), full_page=True)
        await page.get_by_role("link", name="Return to the application").click()
        await page.wait_for_url("**/continue?**")
        assert '"outcome": "locked"' in await page.inner_text("body")
        await context.close()
    assert shot.stat().st_size > 5_000


async def test_page_styles_load_under_the_csp(
    make_gateway: MakeGateway, auth0: tuple[FakeAuth0, TestServer]
) -> None:
    """The stylesheet is allowed by the page's own CSP (no violation, styles applied)."""
    client = await make_gateway()
    url = client.make_url("/pin").with_query(
        {"session_token": auth0[0].session_token(), "state": "s"}
    )
    async with launch_chromium() as browser:
        page = await browser.new_page()
        messages: list[Any] = []
        page.on("console", lambda msg: messages.append(msg.text))
        await page.goto(str(url))
        button_color = await page.eval_on_selector(
            "button", "el => getComputedStyle(el).backgroundColor"
        )
        assert button_color == "rgb(29, 78, 216)"
        assert not [m for m in messages if "Content Security Policy" in m]
