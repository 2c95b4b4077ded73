"""What raises alerts: a provider's circuit opening (and closing), a refused rule change."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.alerts.dispatcher import Alerter
from gateway.clock import FakeClock
from gateway.metrics import Metrics
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.providers.breaker import CircuitBreaker
from gateway.settings import BreakerSettings
from tests.alerts.conftest import MakeAlerter, Receivers
from tests.auth0 import auth_headers, legacy_payload
from tests.pipeline.conftest import Fake, MakeGateway
from tests.providers.fakes import TWILIO_SERVER_ERROR


async def settle(alerter: Alerter) -> None:
    await alerter.drain(5.0)


async def test_circuit_opening_alerts_and_closing_resolves(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock
) -> None:
    """Five failures open the circuit (one alert); a good trial call closes it (resolve)."""
    alerter = await make_alerter()
    breaker = CircuitBreaker("twilio-main", BreakerSettings(), clock, Metrics(), alerter)
    for _ in range(5):
        breaker.record_failure()
    breaker.record_failure()  # still open: no second alert
    await settle(alerter)
    clock.advance(31)
    assert breaker.allow()  # the half-open trial
    breaker.record_success()
    await settle(alerter)
    first, last = receivers.webhook.bodies
    assert first["title"] == "Circuit of provider twilio-main opened"
    assert first["summary"].startswith("5 failures in a row")
    assert last["status"] == "resolved"
    assert last["incident"] == "circuit:twilio-main"


async def test_refused_rule_change_alerts_and_a_good_one_resolves(
    make_alerter: MakeAlerter, receivers: Receivers, clock: FakeClock, tmp_path: Path
) -> None:
    """A rule file that does not load raises an alert naming the problem; fixing it resolves."""
    from gateway.velocity import LocalVelocity

    rules = tmp_path / "rules.yaml"
    good = (
        "rules:\n  - id: r1\n    description: no SMS to KG\n    action: block\n"
        "    conditions: {signal: phone.country, equals: KG}\n"
    )
    rules.write_text(good)
    alerter = await make_alerter()
    engine = RuleEngine(
        load_rules(rules), LocalVelocity(clock), clock=clock, path=rules, alerts=alerter
    )
    rules.write_text("rules:\n  - id: r1\n    action: explode\n")
    assert not await engine.reload()
    await settle(alerter)
    rules.write_text(good.replace("KG", "UZ"))
    assert await engine.reload()
    await settle(alerter)
    fired, resolved = receivers.webhook.bodies
    assert fired["title"] == "A rule change was refused"
    assert "rules.yaml" in fired["summary"]
    assert fired["link"].endswith("/dashboard/rules")
    assert resolved["status"] == "resolved"


async def test_sms_is_answered_while_the_alert_receiver_hangs(
    make_gateway: MakeGateway, twilio: Fake, receivers: Receivers
) -> None:
    """Twilio failing opens its circuit and alerts; with the receiver hanging, /sms still answers
    every request (Vonage sends), and the alert arrives once the receiver answers."""
    receivers.webhook.hang = True
    twilio[0].replies[:] = [TWILIO_SERVER_ERROR] * 50
    client = await make_gateway(alerts=receivers.config())
    statuses = []
    for n in range(12):
        resp = await client.post(
            "/sms", json=legacy_payload(f"+4474{n:02d}000123"), headers=auth_headers()
        )
        statuses.append(resp.status)
    assert statuses == [200] * 12
    assert receivers.webhook.bodies == []  # still hanging: nothing delivered, nothing waited for
    receivers.webhook.hang = False
    receivers.webhook.released.set()
    for _ in range(500):  # bounded wait for the delivery
        if receivers.webhook.bodies:
            break
        await asyncio.sleep(0.01)
    (body,) = receivers.webhook.bodies
    assert body["title"] == "Circuit of provider twilio-main opened"


async def test_decisions_without_redis_alert(
    make_gateway: MakeGateway, receivers: Receivers, tmp_path: Path
) -> None:
    """Redis gone: /sms still answers (local counters) and the team gets one critical alert."""
    from gateway.redisproc import RedisProcess

    with RedisProcess(tmp_path / "redis") as server:
        client = await make_gateway(redis={"url": server.url}, alerts=receivers.config())
        server.kill()
        statuses = []
        for n in range(3):
            resp = await client.post(
                "/sms", json=legacy_payload(f"+4474{n:02d}000123"), headers=auth_headers()
            )
            statuses.append(resp.status)
        for _ in range(500):  # bounded wait for the delivery
            if receivers.webhook.bodies:
                break
            await asyncio.sleep(0.01)
    assert statuses == [200, 200, 200]
    (body,) = receivers.webhook.bodies
    assert body["incident"] == "redis:fallback"
    assert body["severity"] == "critical"
    assert "'local' fallback" in body["summary"]
