"""Dashboard data: JSON API counts, event filters and paging, CSV, actions, rules, PIN unlock."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from gateway.app import create_app
from gateway.settings import PricesSettings, Settings
from tests.dashboard.conftest import (
    BURST,
    SPREAD,
    Client,
    csrf_of,
    gateway_settings,
    login,
    send,
    settle,
    traffic,
)

ALL_NUMBERS = [*BURST, *SPREAD]


def _no_full_number(text: str) -> None:
    for number in ALL_NUMBERS:
        assert number.lstrip("+") not in re.sub(r"[\s-]", "", text), f"{number} leaked"


async def _logged_in_with_traffic(client: Client) -> None:
    await traffic(client)
    assert await login(client) == 303


async def test_overview_counts_sent_blocked_and_rule(client: Client) -> None:
    """After a burst, the overview JSON counts sent and blocked messages and the blocking rule."""
    await _logged_in_with_traffic(client)
    ov = await (await client.get("/dashboard/api/overview?range=hour")).json()
    assert ov["totals"]["sent"] == 5
    assert ov["totals"]["blocked"] == 7
    assert ov["blocked_by_rule"] == [{"rule": "prefix-burst", "count": 7}]
    assert ov["top_countries"] == [{"country": "GB", "count": 7}]
    assert ov["top_prefixes"] == [{"prefix": "447700", "count": 7}]
    assert ov["top_networks"] == [{"network": "198.51.100.0/24", "count": 7}]
    assert sum(ov["series"]["blocked"]) == 7


async def test_money_saved_is_blocked_messages_times_country_price(client: Client) -> None:
    """Money saved = blocked messages x the per-country price from the settings."""
    await _logged_in_with_traffic(client)
    ov = await (await client.get("/dashboard/api/overview")).json()
    assert ov["money_saved"]["amount"] == round(7 * 0.04, 2)
    assert ov["money_saved"]["currency"] == "USD"


async def test_week_and_day_ranges_count_the_same_traffic(client: Client) -> None:
    """The hourly aggregates behind day and week hold the same totals as the minutes."""
    await _logged_in_with_traffic(client)
    for range_ in ("day", "week"):
        ov = await (await client.get(f"/dashboard/api/overview?range={range_}")).json()
        assert (ov["totals"]["sent"], ov["totals"]["blocked"]) == (5, 7)


async def test_events_filter_by_action_rule_country_prefix_and_cidr(client: Client) -> None:
    """Each filter narrows the events: action, rule, country, prefix, IP/CIDR."""
    await _logged_in_with_traffic(client)

    async def count(query: str) -> int:
        body = await (await client.get(f"/dashboard/api/events?{query}")).json()
        return len(body["events"])

    assert await count("") == 12
    assert await count("action=blocked") == 7
    assert await count("rule=prefix-burst") == 7
    assert await count("country=GB") == 12
    assert await count("country=US") == 0
    assert await count("prefix=%2B447800") == 1
    assert await count("ip=198.51.100.0/24") == 10
    assert await count("ip=203.0.113.7") == 2
    one = (await (await client.get("/dashboard/api/events?limit=1")).json())["events"][0]
    assert await count(f"request_id={one['id']}") == 1


async def test_events_page_through_with_a_cursor(client: Client) -> None:
    """limit and next_before page through every event exactly once, newest first."""
    await _logged_in_with_traffic(client)
    seen: list[str] = []
    url = "/dashboard/api/events?limit=5"
    while True:
        body = await (await client.get(url)).json()
        seen += [e["sid"] for e in body["events"]]
        if not body["next_before"]:
            break
        url = f"/dashboard/api/events?limit=5&before={body['next_before']}"
    assert len(seen) == 12
    assert len(set(seen)) == 12
    assert seen == sorted(seen, key=lambda s: tuple(map(int, s.split("-"))), reverse=True)


async def test_bad_filter_is_a_400_with_the_reason(client: Client) -> None:
    """An unusable CIDR answers 400 naming the filter."""
    await login(client)
    resp = await client.get("/dashboard/api/events?ip=10.0.0.0/99")
    assert resp.status == 400
    assert "ip" in (await resp.json())["error"]


async def test_event_detail_has_the_decision_trace(client: Client) -> None:
    """The event detail (JSON and page) shows the rule, its reason and the trace."""
    await _logged_in_with_traffic(client)
    body = await (await client.get("/dashboard/api/events?action=blocked&limit=1")).json()
    sid = body["events"][0]["sid"]
    event = await (await client.get(f"/dashboard/api/events/{sid}")).json()
    assert event["rule"] == "prefix-burst"
    assert event["trace"][0][:2] == ["prefix-burst", True]
    page = await (await client.get(f"/dashboard/events/{sid}")).text()
    assert "prefix-burst" in page
    assert event["trace"][0][2] in page


async def test_no_page_api_or_export_shows_a_full_number(client: Client) -> None:
    """Pages, JSON and CSV show masked numbers only, never a full recipient."""
    await _logged_in_with_traffic(client)
    paths = [
        "/dashboard",
        "/dashboard/events",
        "/dashboard/api/events",
        "/dashboard/api/events.csv",
        "/dashboard/api/overview",
    ]
    body = await (await client.get("/dashboard/api/events?limit=1")).json()
    paths += [
        f"/dashboard/events/{body['events'][0]['sid']}",
        f"/dashboard/api/events/{body['events'][0]['sid']}",
    ]
    for path in paths:
        _no_full_number(await (await client.get(path)).text())


async def test_csv_export_has_one_row_per_event_with_masked_numbers(client: Client) -> None:
    """The CSV export has a header and one row per matching event, recipients masked."""
    await _logged_in_with_traffic(client)
    resp = await client.get("/dashboard/api/events.csv?action=blocked")
    assert resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert len(rows) == 7
    assert {r["rule"] for r in rows} == {"prefix-burst"}
    assert all(re.fullmatch(r"'\+447700\*{4}\d{2}", r["to"]) for r in rows)


async def test_one_click_block_takes_effect_on_the_next_request(client: Client) -> None:
    """Blocking an IP from the dashboard refuses the next POST /sms from it."""
    await login(client)
    assert await send(client, "+447911123456", ip="192.0.2.44") == 200
    page = await (await client.get("/dashboard/actions")).text()
    resp = await client.post(
        "/dashboard/actions/overrides",
        data={
            "csrf": csrf_of(page),
            "kind": "ip",
            "value": "192.0.2.44",
            "action": "block",
            "reason": "pumping from this host",
            "expires": "1h",
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    assert await send(client, "+447911123457", ip="192.0.2.44") == 403
    assert await send(client, "+447911123458", ip="192.0.2.45") == 200
    await settle(client)
    blocked = await (await client.get("/dashboard/api/events?action=blocked")).json()
    event = blocked["events"][0]
    overrides = await (await client.get("/dashboard/api/overrides")).json()
    assert event["rule"] == f"override:{overrides['overrides'][0]['id']}"
    assert "pumping from this host" in event["reason"]


async def test_overrides_are_listed_with_their_audit(client: Client) -> None:
    """An added then removed override is audited with author and reason."""
    await login(client)
    page = await (await client.get("/dashboard/actions")).text()
    token = csrf_of(page)
    await client.post(
        "/dashboard/actions/overrides",
        data={
            "csrf": token,
            "kind": "country",
            "value": "ng",
            "action": "block",
            "reason": "spike",
        },
    )
    listing = await (await client.get("/dashboard/api/overrides")).json()
    (o,) = listing["overrides"]
    assert (o["kind"], o["value"], o["author"]) == ("country", "NG", "alice")
    await client.post(
        f"/dashboard/actions/overrides/{o['id']}/remove", data={"csrf": token, "reason": "over"}
    )
    listing = await (await client.get("/dashboard/api/overrides")).json()
    assert listing["overrides"] == []
    assert [(a["change"], a["author"]) for a in listing["audit"]] == [
        ("remove", "alice"),
        ("add", "alice"),
    ]


async def test_invalid_override_is_refused_with_the_reason(client: Client) -> None:
    """A malformed CIDR is refused with 400 and the reason on the page."""
    await login(client)
    page = await (await client.get("/dashboard/actions")).text()
    resp = await client.post(
        "/dashboard/actions/overrides",
        data={
            "csrf": csrf_of(page),
            "kind": "cidr",
            "value": "10.0.0.0/40",
            "action": "block",
            "reason": "x",
        },
    )
    assert resp.status == 400
    assert "not a CIDR" in await resp.text()


async def test_rules_page_shows_the_loaded_rules_hits_and_shadow_counts(client: Client) -> None:
    """The rules API lists the engine's rules with version, hits and shadow would-have counts."""
    await _logged_in_with_traffic(client)
    info = await (await client.get("/dashboard/api/rules?range=hour")).json()
    assert info["version"]
    rules = {r["id"]: r for r in info["rules"]}
    assert rules["prefix-burst"]["hits"] == 7
    assert rules["watch-gb"]["mode"] == "shadow"
    assert rules["watch-gb"]["would"]["block"] >= 1
    assert info["last_error"] is None


async def test_rules_api_names_the_engine_files_and_default_action(client: Client) -> None:
    """The rules API shows the engine's typed summary: engine, rule files, default action."""
    await login(client)
    info = await (await client.get("/dashboard/api/rules")).json()
    assert (info["engine"], info["default"], info["range"]) == ("RuleEngine", "allow", "day")
    assert [f.rsplit("/", 1)[-1] for f in info["files"]] == ["rules.yaml"]
    assert info["rules"][0]["file"].endswith("rules.yaml:2:5")


async def test_actions_page_title_holds_no_pin_log(client: Client) -> None:
    """The Actions page is titled "Actions" and shows the PIN admin log once, in its body."""
    await login(client)
    page = await (await client.get("/dashboard/actions")).text()
    assert "<title>Actions · smsguard</title>" in page
    assert page.count('id="pin-log"') == 1
    assert page.index('id="pin-log"') > page.index("<body>")


async def test_pin_unlock_clears_the_lock_and_is_audited(
    client: Client, settings: Settings
) -> None:
    """Unlocking a locked PIN user clears the lock and writes an audit line."""
    redis: Redis = Redis.from_url(settings.redis.url)
    await redis.hset(
        "smsguard:{pin}:user:sms|abc", mapping={"hash": "x", "failures": "5", "locked_at": "1"}
    )
    await login(client)
    page = await (await client.get("/dashboard/actions")).text()
    resp = await client.post(
        "/dashboard/actions/pin-unlock",
        data={"csrf": csrf_of(page), "user_id": "sms|abc", "reason": "called support"},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert await redis.hget("smsguard:{pin}:user:sms|abc", "locked_at") is None
    assert await redis.hget("smsguard:{pin}:user:sms|abc", "hash") == b"x"
    audit = (await (await client.get("/dashboard/api/overrides")).json())["audit"]
    assert (audit[0]["change"], audit[0]["target"]) == ("pin-unlock", "sms|abc")
    await redis.aclose()


async def test_rules_page_shows_a_refused_reload_and_keeps_the_running_rules(
    client: Client, settings: Settings
) -> None:
    """After a bad rule file is refused, the rules page shows the error with file:line."""
    from gateway.appkeys import POLICY

    (settings.rules.path / "rules.yaml").write_text("rules:\n  - id: x\n    action: explode\n")
    engine = client.app[POLICY]
    assert await engine.reload() is False
    await login(client)
    info = await (await client.get("/dashboard/api/rules")).json()
    assert "rules.yaml:" in info["last_error"]
    assert {r["id"] for r in info["rules"]} == {"prefix-burst", "watch-gb"}
    page = await (await client.get("/dashboard/rules")).text()
    assert "reload-error" in page


async def test_malformed_event_ids_are_not_found_or_refused(client: Client) -> None:
    """A made-up event id is a 404, a made-up paging cursor a 400 (never a server error)."""
    await login(client)
    assert (await client.get("/dashboard/api/events/not-an-id")).status == 404
    assert (await client.get("/dashboard/events/1-x")).status == 404
    assert (await client.get("/dashboard/api/events?before=zz")).status == 400


async def test_money_saved_uses_the_shipped_price_table_without_settings(
    aiohttp_client: Any, redis_url: str, tmp_path: Path
) -> None:
    """With no `prices:` of its own, the dashboard prices blocked messages from the shipped
    per-country table (gateway/data/sms-prices.csv), not one flat default."""
    from gateway.prices import shipped_prices

    settings = gateway_settings(redis_url, tmp_path / "rules")
    settings = settings.model_copy(update={"prices": PricesSettings()})
    client = await aiohttp_client(create_app(settings))
    await _logged_in_with_traffic(client)
    ov = await (await client.get("/dashboard/api/overview")).json()
    assert ov["money_saved"]["amount"] == round(7 * shipped_prices().price("GB"), 2)
