"""The Conversion page and its API on a real gateway: counters written by real /sms sends and
Auth0 log-stream completions, automatic blocks set by the real watcher, lifted or extended."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.appkeys import FEEDBACK
from gateway.clock import FakeClock
from tests.dashboard.conftest import Client, csrf_of, login, send
from tests.dashboard.convtraffic import (
    LOGGED_IN,
    NEXT_PUMPED,
    PUMPED,
    PUMPED_RANGE,
    USERS,
    conversion_settings,
    pumping_and_logins,
)

API = "/dashboard/api/conversion"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(float(int(time.time())))


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    redis_url: str,
    tmp_path: Path,
    clock: FakeClock,
) -> Client:
    """A logged-in dashboard over pumping to one range and real users who log in."""
    settings = conversion_settings(redis_url, tmp_path / "rules")
    client = await aiohttp_client(create_app(settings, clock=clock))
    await pumping_and_logins(client, clock)
    assert await login(client) == 303
    return client


async def api(client: Client, query: str = "window=1h") -> Any:
    resp = await client.get(f"{API}?{query}")
    assert resp.status == 200, await resp.text()
    return await resp.json()


def row(rows: list[dict[str, Any]], destination: str) -> dict[str, Any]:
    return next(r for r in rows if r["destination"] == destination)


async def csrf(client: Client) -> str:
    return csrf_of(await (await client.get("/dashboard/conversion")).text())


async def test_sent_and_completed_over_time_sum_every_code(client: Client) -> None:
    """The series counts every code relayed and every login the log stream reported."""
    series = (await api(client))["series"]
    assert sum(series["sent"]) == len(USERS) + len(PUMPED)
    assert sum(series["completed"]) == len(LOGGED_IN)
    assert series["bucket_s"] == 300
    assert len(series["starts"]) == 12


async def test_conversion_by_country_against_its_baseline(client: Client) -> None:
    """Each country sent to, with its conversion, its 14-day baseline and the ratio."""
    countries = (await api(client))["countries"]
    gb, uz = row(countries, "GB"), row(countries, "UZ")
    assert (gb["sent"], gb["completed"]) == (6, 4)
    assert gb["conversion"] == gb["baseline"] == pytest.approx(4 / 6, abs=1e-4)
    assert gb["vs_baseline"] == 1.0
    assert (uz["sent"], uz["completed"], uz["conversion"], uz["baseline"]) == (8, 0, 0.0, 0.0)


async def test_ranges_of_4_and_6_digits_from_the_busiest_prefixes(client: Client) -> None:
    """The pumped wide range and the users' ranges are listed with their figures."""
    ranges = (await api(client))["ranges"]
    pumped = row(ranges, PUMPED_RANGE)
    assert (pumped["dimension"], pumped["sent"], pumped["completed"]) == ("r4", 8, 0)
    user = row(ranges, "+44 7400")
    assert (user["sent"], user["completed"], user["baseline"]) == (
        1,
        1,
        pytest.approx(4 / 6, abs=1e-4),
    )


async def test_a_range_asked_for_is_shown_even_without_codes(client: Client) -> None:
    """`range=` looks up ranges of 4 or 6 national digits, sent to or not."""
    ranges = (await api(client, "window=24h&range=%2B998%20914101,%2B33%206123"))["ranges"]
    assert row(ranges, "+998 914101")["sent"] == 1
    assert row(ranges, "+33 6123")["sent"] == 0


@pytest.mark.parametrize(
    ("query", "named"),
    [("window=2h", "window"), ("range=%2B998%2091", "range"), ("range=abc", "range")],
)
async def test_a_bad_parameter_is_400_naming_it(client: Client, query: str, named: str) -> None:
    """A window or range the page cannot read is a 400 naming the parameter, page and API."""
    resp = await client.get(f"{API}?{query}")
    assert resp.status == 400
    assert (await resp.json())["error"].startswith(f"{named}:")
    page = await client.get(f"/dashboard/conversion?{query}")
    assert page.status == 400
    assert f"{named}:" in await page.text()


async def test_the_automatic_block_in_force_with_reason_and_expiry(
    client: Client, clock: FakeClock
) -> None:
    """The watcher's block of the collapsed range: target, figures in the reason, expiry."""
    blocks = (await api(client))["auto_blocks"]
    assert len(blocks) == 1
    b = blocks[0]
    assert (b["kind"], b["value"], b["action"], b["rule"]) == (
        "prefix",
        "9989141",
        "block",
        "auto-block-range",
    )
    assert b["reason"] == "auto-block-range: +998 9141: 8 codes, 0 logins in 1h; baseline 0%"
    assert b["expires_at"] == pytest.approx(clock.time() + 7200)
    assert b["figures"]["sent"] == 8
    assert b["extended_by"] is None


async def test_shadow_outcome_rules_and_auto_blocks_report_what_they_would_have_done(
    client: Client,
) -> None:
    """The shadow outcome rule's would-have hits; the shadow auto-block's note with figures."""
    body = await api(client)
    rule = next(r for r in body["outcome_rules"] if r["id"] == "unverified-watch")
    assert (rule["mode"], rule["hits"]) == ("shadow", len(USERS) + len(PUMPED))
    assert all(r["id"] != "prefix-burst" for r in body["outcome_rules"])
    notes = [a for a in body["auto_block_log"] if a["change"] == "would auto-block"]
    assert [n["value"] for n in notes] == ["UZ"]
    assert "UZ: 8 codes, 0 logins in 1h" in notes[0]["reason"]


async def test_lifting_a_block_is_audited_and_the_next_sms_is_sent(client: Client) -> None:
    """One click lifts the block on every instance; the audit names who; the range is open."""
    assert await send(client, NEXT_PUMPED) == 403
    oid = (await api(client))["auto_blocks"][0]["id"]
    resp = await client.post(
        f"/dashboard/conversion/blocks/{oid}/lift",
        data={"csrf": await csrf(client)},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/dashboard/conversion?notice=block-lifted"
    assert (await api(client))["auto_blocks"] == []
    audit = (await (await client.get("/dashboard/api/overrides")).json())["audit"]
    assert (audit[0]["change"], audit[0]["author"], audit[0]["id"]) == ("remove", "alice", oid)
    assert audit[0]["reason"] == "lifted on the Conversion page"
    assert await send(client, NEXT_PUMPED) == 200


async def test_extending_a_block_sets_a_later_expiry_audited(
    client: Client, clock: FakeClock
) -> None:
    """Set again for 24 h: same target and figures, later expiry, the operator in the audit."""
    oid = (await api(client))["auto_blocks"][0]["id"]
    resp = await client.post(
        f"/dashboard/conversion/blocks/{oid}/extend",
        data={"csrf": await csrf(client), "for": "24h"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/dashboard/conversion?notice=block-extended"
    (b,) = (await api(client))["auto_blocks"]
    assert b["expires_at"] == pytest.approx(clock.time() + 86_400)
    assert (b["extended_by"], b["value"], b["rule"]) == ("alice", "9989141", "auto-block-range")
    audit = (await (await client.get("/dashboard/api/overrides")).json())["audit"]
    assert [(a["change"], a["author"]) for a in audit[:2]] == [
        ("extend auto-block", "alice"),
        ("add", "alice"),
    ]
    clock.advance(3 * 3600)  # past the watcher's 2 h: still blocked
    assert await send(client, NEXT_PUMPED) == 403


async def test_lift_and_extend_need_the_csrf_token(client: Client) -> None:
    """Without the session's CSRF token nothing changes."""
    oid = (await api(client))["auto_blocks"][0]["id"]
    for action in ("lift", "extend"):
        resp = await client.post(
            f"/dashboard/conversion/blocks/{oid}/{action}", data={"for": "24h"}
        )
        assert resp.status == 403
    assert (await api(client))["auto_blocks"][0]["id"] == oid


async def test_the_page_lifts_only_automatic_blocks(client: Client) -> None:
    """A person's override is not lifted from this page (the Actions page removes it)."""
    form = {"csrf": await csrf(client), "kind": "ip", "value": "192.0.2.1", "action": "block"}
    await client.post(
        "/dashboard/actions/overrides", data={**form, "reason": "manual", "expires": ""}
    )
    manual = next(
        o
        for o in (await (await client.get("/dashboard/api/overrides")).json())["overrides"]
        if o["kind"] == "ip"
    )
    resp = await client.post(
        f"/dashboard/conversion/blocks/{manual['id']}/lift",
        data={"csrf": form["csrf"]},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/dashboard/conversion?notice=block-gone"
    overrides = (await (await client.get("/dashboard/api/overrides")).json())["overrides"]
    assert manual["id"] in {o["id"] for o in overrides}


async def test_an_extension_must_be_one_offered(client: Client) -> None:
    """An expiry the page does not offer is a 400 naming the field."""
    oid = (await api(client))["auto_blocks"][0]["id"]
    resp = await client.post(
        f"/dashboard/conversion/blocks/{oid}/extend",
        data={"csrf": await csrf(client), "for": "99y"},
    )
    assert resp.status == 400
    assert (await resp.text()).startswith("for:")


async def test_the_page_shows_no_phone_number(client: Client) -> None:
    """Page and API show ranges and countries, never a number that was sent to."""
    page = await (await client.get("/dashboard/conversion?window=1h")).text()
    body = await (await client.get(f"{API}?window=1h")).text()
    assert PUMPED_RANGE in page
    assert "+44 7400" in page
    for number in USERS + PUMPED:
        digits = number.lstrip("+")
        assert digits not in page
        assert digits not in body
        assert digits[-6:] not in page
    assert not re.search(r"\+?\d{10,}", re.sub(r"<[^>]+>", " ", page))


async def test_before_the_counters_key_is_known_the_figures_are_503_not_zeros(
    client: Client,
) -> None:
    """An instance that has not learned the counters' key from Redis says so instead of zeros."""
    client.app[FEEDBACK].store.keys.counter_keys.ready = False
    resp = await client.get(API)
    assert resp.status == 503
    assert "key is not known yet" in (await resp.json())["error"]
    page = await client.get("/dashboard/conversion")
    assert page.status == 503


async def test_collapsed_destinations_are_shaded_and_healthy_ones_not(client: Client) -> None:
    """Rows of 5+ codes converting far under their baseline (or under 15% with none) stand out."""
    page = await (await client.get("/dashboard/conversion?window=1h")).text()
    shaded = re.findall(r'<tr class="low"><td class="mono">([^<]+)</td>', page)
    assert sorted(shaded) == [PUMPED_RANGE, "UZ"]
