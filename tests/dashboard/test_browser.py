"""End to end in headless Chromium: real traffic through POST /sms, then the dashboard.

Traffic is spread over the last 50 minutes with an injected clock: legitimate logins to many
countries, then a pumping burst to one number range from a hosting network, which the test rules
block. The test logs in, checks what the overview, events and rules pages say against what the
gateway answered, blocks an IP in one click, checks the next request from it is refused, checks that
a visitor without a session is refused, and saves the overview screenshot the README shows.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import phonenumbers
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.clock import FakeClock
from tests.browser import csp_errors, launch_chromium, log_in, needs_chromium, readme_screenshot
from tests.dashboard.conftest import PASSWORD, USER, Client, gateway_settings, send, settle
from tests.geoip_fixtures import write_asn_db, write_country_db

RESIDENTIAL = {
    "203.0.113.0/24": (64496, "Example Broadband"),
    "192.0.2.0/24": (64497, "Example Mobile"),
}
HOSTING = {"198.51.100.0/24": (64500, "Example Hosting"), "100.64.0.0/16": (64501, "Cheap Cloud")}
LEGIT_REGIONS = ["GB", "FR", "DE", "US", "ES", "IT", "BR", "IN"]
ATTACK_REGION = "AZ"


def _mobiles(region: str, count: int, rng: random.Random, *, spread: bool) -> list[str]:
    """Valid mobile numbers of `region`: spread over ranges, or all in one 8-digit range."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    national = str(example.national_number)
    out: list[str] = []
    while len(out) < count:
        keep = 3 if spread else len(national) - 3
        tail = "".join(str(rng.randrange(10)) for _ in range(len(national) - keep))
        candidate = phonenumbers.parse(f"+{example.country_code}{national[:keep]}{tail}")
        if phonenumbers.is_valid_number(candidate):
            e164 = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in out:
                out.append(e164)
    return out


async def _drive_traffic(client: Client, clock: FakeClock, now: float) -> Counter[str]:
    """50 minutes of traffic; returns how the gateway answered (sent / refused) per kind."""
    rng = random.Random(7)
    answers: Counter[str] = Counter()
    legit = {r: _mobiles(r, 40, rng, spread=True) for r in LEGIT_REGIONS}
    attack = _mobiles(ATTACK_REGION, 120, rng, spread=False)
    clock.now = now - 50 * 60
    for minute in range(50):
        for _ in range(rng.randrange(1, 4)):
            region = rng.choice(LEGIT_REGIONS)
            ip = (
                f"203.0.113.{rng.randrange(1, 250)}"
                if rng.random() < 0.6
                else (f"192.0.2.{rng.randrange(1, 250)}")
            )
            status = await send(client, legit[region].pop(), ip=ip)
            answers["legit-sent" if status == 200 else "legit-refused"] += 1
        if 30 <= minute < 42:  # the pumping burst
            for _ in range(10):
                ip = rng.choice(
                    [
                        f"198.51.100.{rng.randrange(1, 250)}",
                        f"100.64.{rng.randrange(0, 255)}.{rng.randrange(1, 250)}",
                    ]
                )
                status = await send(client, attack.pop(), ip=ip)
                answers["attack-sent" if status == 200 else "attack-refused"] += 1
        clock.advance(60)
    clock.now = now
    await settle(client)
    return answers


@needs_chromium
@pytest.mark.browser
async def test_dashboard_end_to_end_in_chromium(
    aiohttp_client: Callable[[TestServer], Awaitable[Client]],
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """Blocked traffic, its rule and counts appear; one-click block works; visitors are refused."""
    now = float(int(time.time()))
    clock = FakeClock(start=now)
    country_db = write_country_db(
        tmp_path / "country.mmdb", dict.fromkeys(RESIDENTIAL, "GB") | dict.fromkeys(HOSTING, "US")
    )
    asn_db = write_asn_db(tmp_path / "asn.mmdb", RESIDENTIAL | HOSTING)
    settings = gateway_settings(
        redis_url,
        tmp_path / "rules",
        refresh_s=1,
        sections={
            "geoip": {"country_db": str(country_db), "asn_db": str(asn_db)},
            "prices": {
                "currency": "USD",
                "default": 0.05,
                "per_country": {"AZ": 0.31, "GB": 0.04, "US": 0.008},
            },
        },
    )
    app: web.Application = create_app(settings, clock=clock)
    server = await aiohttp_server(app)
    client = await aiohttp_client(server)
    answers = await _drive_traffic(client, clock, now)
    assert answers["attack-refused"] > 0
    assert answers["legit-refused"] == 0
    sent = answers["legit-sent"] + answers["attack-sent"]
    refused = answers["attack-refused"]
    base = str(server.make_url("/dashboard"))

    async with launch_chromium() as browser:
        # A visitor without a session: pages send them to the login form, the API refuses.
        visitor = await browser.new_page()
        await visitor.goto(f"{base}/events")
        assert "/dashboard/login" in visitor.url
        api = await visitor.request.get(f"{base}/api/overview")
        assert api.status == 401

        context = await browser.new_context(viewport={"width": 1440, "height": 1100})
        page = await context.new_page()
        csp = csp_errors(page)

        await page.goto(base)
        await log_in(page, USER, PASSWORD)
        await page.wait_for_selector("#total-blocked")

        # Overview: the counts the gateway answered, the rule that blocked, the stopped range.
        assert await page.inner_text("#total-blocked") == str(refused)
        assert await page.inner_text("#total-sent") == str(sent)
        by_rule = await page.inner_text("#by-rule")
        assert "prefix-burst" in by_rule
        assert str(refused) in by_rule
        assert ATTACK_REGION in await page.inner_text("#top-countries")
        assert "Example Hosting" in await page.inner_text("#top-asns")
        saved = await page.inner_text("#money-saved")
        assert saved == f"{refused * 0.31:.2f} USD"
        await page.mouse.move(0, 0)
        shot = readme_screenshot("dashboard-overview.png", tmp_path)
        await page.screenshot(path=str(shot), full_page=True)

        # Live: a new message shows up on the open overview without a reload.
        await send(client, "+447400123999", ip="203.0.113.5")
        await settle(client)
        await page.wait_for_function(
            "n => document.getElementById('total-sent').innerText === String(n)",
            arg=sent + 1,
            timeout=15_000,
        )

        # Events: the blocked ones, with their rule, filtered by action.
        await page.goto(f"{base}/events?action=blocked&limit=500")
        rows = await page.query_selector_all("#events tbody tr")
        assert len(rows) == refused
        rules = {await r.get_attribute("data-rule") for r in rows}
        assert rules == {"prefix-burst"}
        masked = await page.inner_text("#events tbody tr:first-child td:nth-child(4)")
        assert "*" in masked

        # Event detail: the decision trace.
        await page.click("#events tbody tr:first-child td:first-child a")
        assert "prefix-burst" in await page.inner_text("#trace")

        # Rules: the loaded rules with their hits and the shadow rule's would-have count.
        await page.goto(f"{base}/rules?range=hour")
        rules_table = await page.inner_text("#rules")
        assert "prefix-burst" in rules_table
        assert "watch-gb" in rules_table
        assert "shadow" in rules_table

        # One click on an events row blocks that IP on the next request.
        assert await send(client, "+447400123998", ip="192.0.2.99") == 200
        await settle(client)
        await page.goto(f"{base}/events?ip=192.0.2.99")
        await page.click('button[data-block="ip:192.0.2.99"]')
        await page.wait_for_selector("text=Override applied on every instance.", timeout=5_000)
        assert await send(client, "+447400123997", ip="192.0.2.99") == 403
        await page.goto(f"{base}/actions")
        overrides = await page.inner_text("#overrides")
        assert "192.0.2.99" in overrides
        assert USER in await page.inner_text("#audit")
        assert csp == []
        await context.close()
