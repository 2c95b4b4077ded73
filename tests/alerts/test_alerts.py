"""Alerts reach Slack, PagerDuty and a signed webhook once per incident, and say when it ends."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from gateway.alerts.dispatcher import Alerter
from gateway.alerts.model import Alert, Severity
from gateway.clock import FakeClock
from gateway.settings import AlertsSettings
from tests.alerts.conftest import PD_KEY, MakeAlerter, Receivers, verify_signature


def budget_alert(clock: FakeClock, severity: Severity = Severity.CRITICAL) -> Alert:
    return Alert(
        "budget:kg-daily:100",
        severity,
        "Daily budget for KG reached",
        "$50.00 of $50.00 spent today (Asia/Bishkek)",
        clock.time(),
        "/dashboard/spend",
        {"spent": 50.0, "budget": 50.0, "currency": "USD"},
    )


async def settle(alerter: Alerter, *more: Alerter) -> None:
    """Wait until every fired alert has been handled and every queue delivered."""
    for a in (alerter, *more):
        await a.drain(5.0)


async def test_burst_of_refusals_alerts_once_per_incident_across_replicas(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """10,000 fires of one incident from two replicas send one message to each notifier."""
    one, two = await make_alerter(), await make_alerter()
    for i in range(10_000):
        (one if i % 2 else two).fire(budget_alert(clock))
        if i % 1000 == 0:
            clock.advance(31)  # the fires span five minutes: last-seen refreshes go to Redis
            await asyncio.sleep(0)
    await settle(one, two)
    assert len(receivers.slack.bodies) == 1
    assert len(receivers.pagerduty.bodies) == 1
    assert len(receivers.webhook.bodies) == 1


async def test_incident_ends_with_one_resolve_message(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """An incident not raised for resolve_after_s is resolved once, whichever replica sweeps."""
    one, two = await make_alerter(), await make_alerter()
    one.fire(budget_alert(clock))
    await settle(one)
    clock.advance(601)
    await asyncio.gather(one.sweep(), two.sweep())
    await settle(one, two)
    assert [b["status"] for b in receivers.webhook.bodies] == ["firing", "resolved"]
    assert [b["event_action"] for b in receivers.pagerduty.bodies] == ["trigger", "resolve"]
    assert receivers.pagerduty.bodies[1]["dedup_key"] == receivers.pagerduty.bodies[0]["dedup_key"]
    assert "Resolved" in str(receivers.slack.bodies[1]["text"])


async def test_an_incident_still_firing_is_not_resolved(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """Raising the incident again keeps it open past resolve_after_s."""
    alerter = await make_alerter()
    for _ in range(30):
        alerter.fire(budget_alert(clock))
        clock.advance(31)
        await settle(alerter)
        await alerter.sweep()
    await settle(alerter)
    assert [b["status"] for b in receivers.webhook.bodies] == ["firing"]


async def test_clear_sends_the_resolve_at_once(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """clear(key) (a circuit closing, a block lifted) resolves the incident without waiting."""
    alerter = await make_alerter()
    alerter.fire(budget_alert(clock))
    await settle(alerter)
    alerter.clear("budget:kg-daily:100")
    alerter.clear("budget:kg-daily:100")
    await settle(alerter)
    assert [b["status"] for b in receivers.webhook.bodies] == ["firing", "resolved"]


async def test_nothing_is_lost_while_a_receiver_is_down_for_a_minute(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """Slack answers 503 for a minute: its alerts arrive after it returns, in order."""
    receivers.slack.down_until = clock.time() + 60
    alerter = await make_alerter()
    for n in range(3):
        alerter.fire(
            Alert(
                f"circuit:p{n}", Severity.WARNING, f"Circuit p{n} open", "5 failures", clock.time()
            )
        )
    await settle(alerter)
    texts = [str(b["text"]) for b in receivers.slack.bodies]
    assert [t.split("\n")[0] for t in texts] == [
        f":warning: WARNING: Circuit p{n} open" for n in range(3)
    ]
    assert len(receivers.webhook.bodies) == 3  # the other receivers were not held up


async def test_a_receiver_that_stays_down_is_given_up_and_counted(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """After retry_for_s of failures a message is dropped, counted as failed, and logged."""
    receivers.slack.down_until = clock.time() + 10_000
    alerter = await make_alerter(receivers.settings(retry_for_s=120))
    alerter.fire(budget_alert(clock))
    await settle(alerter)
    assert receivers.slack.bodies == []
    assert len(receivers.webhook.bodies) == 1


async def test_a_hanging_receiver_does_not_hold_up_fire_or_the_others(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """While PagerDuty never answers, fire() returns at once and the other notifiers deliver."""
    receivers.pagerduty.hang = True
    alerter = await make_alerter()
    alerter.fire(budget_alert(clock))
    for _ in range(1000):  # bounded wait (10 s at most) for the two receivers that answer
        if receivers.webhook.bodies and receivers.slack.bodies:
            break
        await asyncio.sleep(0.01)
    assert len(receivers.webhook.bodies) == 1
    assert len(receivers.slack.bodies) == 1
    assert receivers.pagerduty.bodies == []
    receivers.pagerduty.hang = False
    receivers.pagerduty.released.set()
    await settle(alerter)
    assert len(receivers.pagerduty.bodies) == 1


async def test_min_severity_filters_per_notifier(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """A warning reaches Slack and the webhook but not PagerDuty (critical only)."""
    alerter = await make_alerter()
    alerter.fire(budget_alert(clock, Severity.WARNING))
    await settle(alerter)
    assert receivers.pagerduty.bodies == []
    assert len(receivers.slack.bodies) == len(receivers.webhook.bodies) == 1


async def test_webhook_body_is_signed_and_says_what_how_much_since_when_where(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """The webhook's signature verifies, and the body carries the figures and a dashboard link."""
    alerter = await make_alerter()
    alerter.fire(budget_alert(clock))
    await settle(alerter)
    (body,), (headers,) = receivers.webhook.bodies, receivers.webhook.headers
    assert verify_signature(headers)
    assert body["title"] == "Daily budget for KG reached"
    assert body["summary"] == "$50.00 of $50.00 spent today (Asia/Bishkek)"
    assert body["since"] == "2023-11-14T22:13:20Z"
    assert body["link"] == "https://sms.example.test/dashboard/spend"
    assert body["values"] == {"spent": 50.0, "budget": 50.0, "currency": "USD"}


async def test_pagerduty_event_follows_events_api_v2(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """A trigger carries routing key, dedup key and a payload with PagerDuty's fields."""
    alerter = await make_alerter()
    alerter.fire(budget_alert(clock))
    await settle(alerter)
    (event,) = receivers.pagerduty.bodies
    assert event["routing_key"] == PD_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "smsguard:budget:kg-daily:100"
    payload = event["payload"]
    assert isinstance(payload, dict)
    assert payload["severity"] == "critical"
    assert payload["source"] == "smsguard"
    assert payload["summary"].startswith("Daily budget for KG reached")


async def test_rate_limit_caps_messages_per_notifier(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """Distinct incidents beyond per_minute in one minute are not sent."""
    alerter = await make_alerter(receivers.settings(per_minute=5))
    for n in range(12):
        alerter.fire(Alert(f"x:{n}", Severity.CRITICAL, f"x{n}", "s", clock.time()))
    await settle(alerter)
    assert len(receivers.webhook.bodies) == 5


async def test_alerts_still_go_out_when_redis_is_down(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """With Redis unreachable, incidents are kept per process and still alert once."""
    from gateway.redisproc import free_port

    alerter = await make_alerter(redis=f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(3):
        alerter.fire(budget_alert(clock))
    await settle(alerter)
    assert len(receivers.webhook.bodies) == 1


@pytest.mark.parametrize(
    ("notifier", "message"),
    [
        ({"type": "slack", "name": "s", "webhook_url": "http://hooks.slack.com/x"}, "use https"),
        ({"type": "webhook", "name": "w", "url": "https://h.test/", "secret": "short"}, "32 bytes"),
        ({"type": "pagerduty", "name": "p", "routing_key": "k", "url": "ftp://x/"}, "not an http"),
    ],
)
def test_settings_refuse_insecure_notifiers(notifier: dict[str, str], message: str) -> None:
    """Plain http to a remote host, short webhook secrets and odd URLs are refused at start."""
    with pytest.raises(ValidationError, match=message):
        AlertsSettings.model_validate({"notifiers": [notifier]})
