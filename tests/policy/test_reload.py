"""Startup and hot reload inside the app: refusal keeps the old rules, file watching, SIGHUP."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from gateway import policy
from gateway.appkeys import CLOCK, METRICS, POLICY, READINESS, REDIS, SETTINGS
from gateway.clock import SystemClock
from gateway.errors import ConfigError
from gateway.health import Readiness, readyz
from gateway.metrics import Metrics
from gateway.models import Action
from gateway.policy.engine import RuleEngine
from gateway.settings import RedisSettings, RulesSettings, Settings
from tests.policy.helpers import signals, sms, write_rules

PREMIUM = """
rules:
  - id: premium
    description: premium-rate number
    conditions: {signal: phone.type, equals: PREMIUM_RATE}
    action: block
"""
BROKEN = """
rules:
  - id: premium
    description: premium-rate number
    conditions: {signal: phone.type, equals: PREMIUM_RAT}
    action: block
"""


def make_app(rules: Path, redis_url: str, *, watch: bool = False) -> web.Application:
    """The parts of the gateway app the policy stage needs, with a real Redis client."""
    app = web.Application()
    app[SETTINGS] = Settings(
        rules=RulesSettings(path=rules, watch=watch, watch_debounce_ms=50),
        redis=RedisSettings(url=redis_url),
    )
    app[CLOCK] = SystemClock()
    app[METRICS] = Metrics()
    app[READINESS] = Readiness(details=True)

    async def redis_ctx(app: web.Application) -> Any:
        app[REDIS] = Redis.from_url(redis_url)
        yield
        await app[REDIS].aclose()

    app.cleanup_ctx.append(redis_ctx)
    app.router.add_get("/readyz", readyz)
    policy.setup(app)
    return app


async def wait_for(predicate: Any) -> None:
    """Poll until `predicate()` holds (file events and signals arrive asynchronously)."""
    for _ in range(500):  # 10 s at most
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached within 10 s")


async def test_startup_installs_the_engine_and_readiness(
    tmp_path: Path, redis_url: str, aiohttp_client: Any
) -> None:
    """At startup app[POLICY] is the rule engine and /readyz reports the rules version."""
    app = make_app(write_rules(tmp_path, {"10-a.yaml": PREMIUM}), redis_url)
    client = await aiohttp_client(app)
    engine = app[POLICY]
    assert isinstance(engine, RuleEngine)
    body = await (await client.get("/readyz")).json()
    assert body["checks"]["rules"]["status"] == "ok"
    assert f"version {engine.version}, 1 rules" in body["checks"]["rules"]["detail"]


async def test_bad_rules_at_startup_fail_the_startup(
    tmp_path: Path, redis_url: str, aiohttp_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid rule set stops the startup and prints every error."""
    app = make_app(write_rules(tmp_path, {"10-a.yaml": BROKEN}), redis_url)
    with pytest.raises(ConfigError):
        await aiohttp_client(app)
    assert "10-a.yaml:4:38: unknown number type 'PREMIUM_RAT'" in capsys.readouterr().err


async def test_bad_reload_is_refused_and_old_rules_keep_serving(
    tmp_path: Path, redis_url: str, aiohttp_client: Any
) -> None:
    """A broken edit is refused, counted, shown in /readyz; the running rules still decide."""
    folder = write_rules(tmp_path, {"10-a.yaml": PREMIUM})
    app = make_app(folder, redis_url)
    client = await aiohttp_client(app)
    engine: RuleEngine = app[POLICY]
    version = engine.version
    write_rules(folder, {"10-a.yaml": BROKEN})
    assert await engine.reload() is False
    assert engine.version == version
    d = await engine.decide(sms(), signals(number_type="PREMIUM_RATE"))
    assert (d.action, d.rule_id) == (Action.BLOCK, "premium")
    metrics: Metrics = app[METRICS]
    refused = metrics.registry.get_sample_value(
        "smsguard_rules_reloads_total", {"result": "refused"}
    )
    assert refused == 1
    resp = await client.get("/readyz")
    rules = (await resp.json())["checks"]["rules"]
    assert resp.status == 200
    assert rules["status"] == "ok"
    assert "last reload refused" in rules["detail"]
    assert "unknown number type 'PREMIUM_RAT'" in rules["detail"]


async def test_good_reload_replaces_the_rules(
    tmp_path: Path, redis_url: str, aiohttp_client: Any
) -> None:
    """A valid edit replaces the running rules and clears the last error."""
    folder = write_rules(tmp_path, {"10-a.yaml": PREMIUM})
    app = make_app(folder, redis_url)
    await aiohttp_client(app)
    engine: RuleEngine = app[POLICY]
    write_rules(folder, {"10-a.yaml": BROKEN})
    await engine.reload()
    write_rules(folder, {"10-a.yaml": PREMIUM.replace("PREMIUM_RATE", "SHARED_COST")})
    assert await engine.reload() is True
    assert engine.last_error is None
    assert (await engine.decide(sms(), signals(number_type="PREMIUM_RATE"))).action is Action.ALLOW
    assert (await engine.decide(sms(), signals(number_type="SHARED_COST"))).action is Action.BLOCK


async def test_a_saved_file_is_picked_up_by_the_watcher(
    tmp_path: Path, redis_url: str, aiohttp_client: Any
) -> None:
    """With rules.watch, saving a rule file reloads the set."""
    folder = write_rules(tmp_path, {"10-a.yaml": PREMIUM})
    app = make_app(folder, redis_url, watch=True)
    await aiohttp_client(app)
    engine: RuleEngine = app[POLICY]
    version = engine.version
    await asyncio.sleep(0.2)  # the watcher subscribes after startup
    write_rules(folder, {"20-b.yaml": PREMIUM.replace("premium", "premium-2")})
    await wait_for(lambda: engine.version != version)
    assert [r.id for r in engine.rules.rules] == ["premium", "premium-2"]


async def test_sighup_reloads(tmp_path: Path, redis_url: str, aiohttp_client: Any) -> None:
    """SIGHUP reloads the rule set (the handler is installed in the main thread)."""
    folder = write_rules(tmp_path, {"10-a.yaml": PREMIUM})
    app = make_app(folder, redis_url)
    await aiohttp_client(app)
    engine: RuleEngine = app[POLICY]
    version = engine.version
    write_rules(folder, {"20-b.yaml": PREMIUM.replace("premium", "premium-2")})
    os.kill(os.getpid(), signal.SIGHUP)
    await wait_for(lambda: engine.version != version)
    assert len(engine.rules.rules) == 2


async def test_any_exception_while_loading_is_a_refusal(tmp_path: Path) -> None:
    """A loader failure that is not a ConfigError is refused, counted and kept as last_error."""
    from gateway.clock import FakeClock
    from gateway.policy.loader import load_rules
    from gateway.velocity import LocalVelocity

    folder = write_rules(tmp_path, {"10-a.yaml": PREMIUM})

    def failing_loader(path: Path) -> Any:
        raise RuntimeError("disk on fire")

    metrics = Metrics()
    engine = RuleEngine(
        load_rules(folder),
        LocalVelocity(),
        clock=FakeClock(),
        metrics=metrics,
        path=folder,
        loader=failing_loader,
    )
    assert await engine.reload() is False
    assert engine.last_error is not None
    assert "RuntimeError: disk on fire" in str(engine.last_error.problems[0])
    refused = metrics.registry.get_sample_value(
        "smsguard_rules_reloads_total", {"result": "refused"}
    )
    assert refused == 1


async def test_the_watcher_survives_a_bad_file_and_takes_the_fix(
    tmp_path: Path, redis_url: str, aiohttp_client: Any
) -> None:
    """A control character in a saved file is refused; the next good save is still picked up."""
    folder = write_rules(tmp_path, {"10-a.yaml": PREMIUM})
    app = make_app(folder, redis_url, watch=True)
    await aiohttp_client(app)
    engine: RuleEngine = app[POLICY]
    version = engine.version
    await asyncio.sleep(0.2)  # the watcher subscribes after startup
    write_rules(folder, {"10-a.yaml": PREMIUM.replace("premium-rate", "premium\x07rate")})
    await wait_for(lambda: engine.last_error is not None)
    assert engine.version == version
    write_rules(folder, {"20-b.yaml": PREMIUM.replace("premium", "premium-2")})
    write_rules(folder, {"10-a.yaml": PREMIUM})
    await wait_for(lambda: engine.version != version and engine.last_error is None)
    assert [r.id for r in engine.rules.rules] == ["premium", "premium-2"]
