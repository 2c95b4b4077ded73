"""A gateway with completion feedback and auto-blocks, and the traffic the Conversion page shows:
real POST /sms, real Auth0 log-stream completions, the real auto-block watcher."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from gateway.adaptive import WATCHER
from gateway.appkeys import FEEDBACK
from gateway.clock import FakeClock
from gateway.settings import Settings
from tests.dashboard.conftest import Client, gateway_settings, send, settle
from tests.feedback.helpers import log_event, wrapped

AUTHORIZATION = "Bearer conversion-page-stream"
# Outcome rules and auto-blocks the page reports on (loaded beside the dashboard tests' rules).
OUTCOME_RULES = """\
rules:
  - id: unverified-watch
    description: numbers that never completed a login (shadow, for the would-have counts)
    conditions:
      not: {signal: recipient.verified, equals: true}
    action: block
    mode: shadow
auto_blocks:
  - id: auto-block-range
    description: a wide range whose codes stopped being used
    subject: phone.range4
    window: 1h
    min_sent: 5
    max_conversion: 0.05
    block_for: 2h
  - id: auto-block-country
    description: a country whose codes stopped being used
    subject: phone.country
    window: 1h
    min_sent: 5
    max_conversion: 0.05
    block_for: 1h
    mode: shadow
"""
# Real users: GB numbers in different ranges, four of six logging in.
USERS = [f"+4474{n}0123456" for n in range(6)]
LOGGED_IN = USERS[:4]
# Pumping: eight Uzbek numbers of one wide range (+998 9141), each in its own 8-digit prefix
# (the dashboard tests' prefix-burst rule counts those), none logging in.
PUMPED = [f"+9989141{n}1234" for n in range(8)]
PUMPED_RANGE = "+998 9141"
NEXT_PUMPED = "+998914191234"


def conversion_settings(redis_url: str, rules_dir: Path) -> Settings:
    settings = gateway_settings(
        redis_url,
        rules_dir,
        sections={
            "feedback": {"log_stream": {"authorization": AUTHORIZATION}, "flush_interval_ms": 10}
        },
    )
    (rules_dir / "outcomes.yaml").write_text(OUTCOME_RULES)
    return settings


async def complete(client: Client, numbers: list[str], at: float) -> None:
    """Auth0's log stream reports a successful SMS login of each number at `at`."""
    events = [wrapped(log_event("s", f"conv-{n}", phone=e, at=at)) for n, e in enumerate(numbers)]
    resp = await client.post(
        "/v1/auth0/log-stream",
        data=json.dumps(events),
        headers={"Authorization": AUTHORIZATION, "Content-Type": "application/json"},
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["matched"] == len(numbers)


async def pumping_and_logins(client: Client, clock: FakeClock) -> None:
    """Codes to the users and the pumped range, the users' logins, then one watcher look."""
    app: web.Application = client.app
    for number in USERS + PUMPED:
        assert await send(client, number) == 200
    await settle(client)
    assert await app[FEEDBACK].flush(), "the feedback writes did not land"
    clock.advance(30)
    await complete(client, LOGGED_IN, clock.time() - 10)
    await app[WATCHER].tick()
