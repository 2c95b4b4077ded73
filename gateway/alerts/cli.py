"""`smsguard alerts test`: send one test alert to every configured notifier, say how each went."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp

from gateway.alerts.model import Alert, Severity
from gateway.alerts.notifiers import build_notifier, post
from gateway.clock import SystemClock
from gateway.errors import AlertDeliveryError
from gateway.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="alert notifiers (test)")
    asub = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    t = asub.add_parser("test", help="send a test alert to every notifier (exit 1 if one fails)")
    t.add_argument("--config", help="settings YAML (default: $SMSGUARD_CONFIG, else defaults)")
    t.set_defaults(func=cmd_test)


def cmd_test(args: argparse.Namespace) -> int:
    from gateway.cli import load_or_exit

    settings = load_or_exit(args.config)
    if not settings.alerts.notifiers:
        print("no notifiers configured (settings: alerts.notifiers)", file=sys.stderr)
        return 1
    results = asyncio.run(send_test(settings))
    for name, error in results.items():
        print(f"{name}: {'ok' if error is None else 'FAILED: ' + error}")
    return 0 if all(e is None for e in results.values()) else 1


async def send_test(settings: Settings) -> dict[str, str | None]:
    """Each notifier's result: None when delivered, else what went wrong."""
    from gateway.alerts.stage import dashboard_url

    clock = SystemClock()
    alert = Alert(
        "test",
        Severity.CRITICAL,
        "Test alert from smsguard",
        "If you read this, alerts reach you. Nothing is wrong.",
        clock.time(),
        "/dashboard",
    )
    link = dashboard_url(settings).rstrip("/") + alert.link_path
    results: dict[str, str | None] = {}
    async with aiohttp.ClientSession() as session:
        for settings_n in settings.alerts.notifiers:
            notifier = build_notifier(settings_n, clock)
            try:
                await post(session, notifier.render(alert, link), notifier.name, notifier.timeout_s)
            except AlertDeliveryError as exc:
                results[notifier.name] = exc.message
            else:
                results[notifier.name] = None
    return results
