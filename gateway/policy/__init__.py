"""The policy engine: ordered YAML rules, named lists, velocity counters -> a Decision.

The message path depends only on the `Policy` protocol below. `setup(app)` loads the rule set at
startup (a bad set stops the startup with every error), installs the `RuleEngine` (overrides first,
then the rules) as app[POLICY],
registers the "rules" readiness check, and reloads on file changes (rules.watch) and on SIGHUP.

    loader.py        load_rules: the rule files -> a RuleSet, every problem with its file:line:col
    ruleset.py       RuleSet, Rule, Velocity, DefaultAction (what a loaded set holds)
    listdefs.py      the `lists:` section: named lists, inline or from files
    velocityspec.py  the `velocity:` block: keys, limits, durations
    conditions/      condition types, their registry and the condition parser
    signalnames.py   the signal names rules use
    engine.py        RuleEngine: overrides, then the rules, with velocity counters -> a Decision
    summary.py       the loaded rule set as the dashboard's Rules page reads it
    cli.py           `smsguard rules check | test | explain`
    testcases.py     the rule test file format, parsed;  testing.py  running the cases
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from gateway.alerts.model import Alert, Severity
from gateway.appkeys import (
    ALERTS,
    CLOCK,
    METRICS,
    OVERRIDES,
    POLICY,
    READINESS,
    REDIS,
    SETTINGS,
    SPEND,
)
from gateway.errors import ConfigError
from gateway.health import CheckResult
from gateway.logs import get_logger
from gateway.models import Decision, SmsRequest
from gateway.signals import Signals

if TYPE_CHECKING:
    from gateway.policy.engine import RuleEngine

log = get_logger("gateway.policy")


class Policy(Protocol):
    async def decide(self, sms: SmsRequest, signals: Signals) -> Decision:
        """Evaluate the rules for one request (velocity counters: one Redis round trip)."""
        ...

    async def settle(
        self, sms: SmsRequest, signals: Signals, decision: Decision, sent: bool
    ) -> None:
        """Told after the send attempt, for counters that count only messages actually sent."""
        ...


def setup(app: web.Application) -> None:
    """Install the rule engine as app[POLICY] at startup (after Redis is open)."""
    app.cleanup_ctx.append(_engine_ctx)


def _fallback_alert(app: web.Application) -> Callable[[str], None] | None:
    """Velocity decided without Redis: one alert per incident (the alerter throttles repeats);
    it resolves once no decision has fallen back for alerts.resolve_after_s."""
    alerts = app.get(ALERTS)
    if alerts is None:
        return None
    clock, budget_ms = app[CLOCK], app[SETTINGS].redis.call_timeout_ms

    def report(mode: str) -> None:
        alerts.fire(
            Alert(
                "redis:fallback",
                Severity.CRITICAL,
                "Velocity limits decided without Redis",
                f"Redis is unreachable or slower than {budget_ms} ms: decisions use the "
                f"'{mode}' fallback, so limits are no longer shared across replicas",
                clock.time(),
                "/dashboard",
                {"mode": mode, "budget_ms": budget_ms},
            )
        )

    return report


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    from gateway.policy.engine import RuleEngine
    from gateway.policy.loader import load_rules
    from gateway.velocity import RedisVelocity

    settings = app[SETTINGS]
    metrics = app[METRICS]
    path = settings.rules.path
    try:
        rules = await asyncio.to_thread(load_rules, path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        log.error("rules_invalid_at_startup", path=str(path), problems=len(exc.problems))
        raise
    store = RedisVelocity(
        app[REDIS],
        clock=app[CLOCK],
        timeout_s=settings.redis.call_timeout_ms / 1000,
        on_error=settings.redis.on_error,
        on_fallback=_fallback_alert(app),
    )
    secret = settings.rules.counter_hash_key
    await store.start(secret.get_secret_value().encode() if secret is not None else None)
    engine = RuleEngine(
        rules,
        store,
        clock=app[CLOCK],
        metrics=metrics,
        path=path,
        overrides=app.get(OVERRIDES),
        alerts=app.get(ALERTS),
        pricing=spend.pricing if (spend := app.get(SPEND)) is not None else None,
        feedback_configured=settings.feedback.log_stream.authorization is not None,
    )
    app[POLICY] = engine
    log.info("rules_loaded", version=engine.version, rules=len(rules.rules), path=str(path))

    async def rules_check() -> CheckResult:
        detail = (
            f"version {engine.version}, {len(engine.rules.rules)} rules, "
            f"loaded_at {engine.loaded_at:.0f}"
        )
        if engine.last_error is not None:
            problems = engine.last_error.problems
            shown = "; ".join(str(p) for p in problems[:5])
            more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
            detail += f"; last reload refused: {shown}{more}"
        return CheckResult(True, detail)

    app[READINESS].add("rules", rules_check)

    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()

    def spawn(coro: Coroutine[object, None, object]) -> None:
        task = loop.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    if settings.rules.watch:
        spawn(_watch(engine, path, settings.rules.watch_debounce_ms))
    hup = False
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: spawn(engine.reload()))
            hup = True
    try:
        yield
    finally:
        await store.stop()
        if hup:
            loop.remove_signal_handler(signal.SIGHUP)
        pending = list(tasks)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _watch(engine: RuleEngine, path: Path, debounce_ms: int) -> None:
    """Reload when a file under the rules folder changes (debounced by watchfiles)."""
    from watchfiles import awatch

    while True:
        try:
            target = path if await asyncio.to_thread(path.is_dir) else path.parent
            async for _changes in awatch(target, debounce=debounce_ms, recursive=True):
                try:
                    await engine.reload()
                except Exception as exc:  # the watcher outlives any one reload
                    log.error("rules_reload_failed", error=f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. the folder vanished: watch again later
            log.error("rules_watch_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(max(1.0, debounce_ms / 1000))
