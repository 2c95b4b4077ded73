"""`smsguard pin status|reset|unlock USER_ID`: the operator's PIN tools.

    status  show enrollment, failures, lock and next allowed attempt (never the hash)
    unlock  clear failures, delay and lock; the user keeps the PIN
    reset   forget the PIN (and counters): the user chooses a new one at the next login

Every command is audited as gateway/pin/admin.py does for the dashboard too: one warning-level log
line (`pin admin`, action, user, operator, reason) and an entry in the stream
`smsguard:{pin}:audit`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import sys

import structlog
from redis.exceptions import RedisError

from gateway.logs import configure_logging
from gateway.pin import admin
from gateway.pin.store import PinStatus
from gateway.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pin", help="PIN step administration (status, unlock, reset)")
    psub = p.add_subparsers(dest="pin_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("status", "show a user's PIN state (never the hash)"),
        ("unlock", "clear failures and lock; the user keeps the PIN"),
        ("reset", "forget the PIN: the user enrolls a new one at the next login"),
    ):
        c = psub.add_parser(name, help=help_text)
        c.add_argument("user_id", metavar="USER_ID", help="Auth0 user id, e.g. sms|64f0c...")
        c.add_argument("--config", help="settings YAML (default: $SMSGUARD_CONFIG, else defaults)")
        c.add_argument("--by", default=None, help="operator name for the audit (default: $USER)")
        c.add_argument("--reason", default="", help="why (recorded in the audit)")
        if name == "status":
            c.add_argument("--json", action="store_true", help="print JSON")
        c.set_defaults(func=cmd_pin)


def cmd_pin(args: argparse.Namespace) -> int:
    from gateway.cli import load_or_exit

    settings = load_or_exit(args.config)
    if not structlog.is_configured():  # the audit line goes to stderr, the answer to stdout
        configure_logging(settings.logging.level, settings.logging.format)
    return asyncio.run(run(settings, args))


async def run(settings: Settings, args: argparse.Namespace) -> int:
    operator = str(args.by or _operator())
    reason = str(args.reason)
    user = str(args.user_id)
    try:
        async with admin.open_store(settings) as store:
            if args.pin_command == "status":
                status = await store.status(user)
                _print_status(user, status, settings.pin.max_failures, as_json=args.json)
                await admin.record(
                    store,
                    "status",
                    user,
                    operator=operator,
                    reason=reason,
                    changed=False,
                    via="cli",
                )
            elif args.pin_command == "unlock":
                changed = await admin.unlock(
                    store, user, operator=operator, reason=reason, via="cli"
                )
                print(f"{user}: unlocked" if changed else f"{user}: nothing to unlock")
            else:
                changed = await admin.reset(
                    store, user, operator=operator, reason=reason, via="cli"
                )
                print(f"{user}: PIN forgotten" if changed else f"{user}: had no PIN record")
    except (OSError, RedisError) as exc:
        print(f"cannot reach Redis at {admin.store_url(settings)}: {exc}", file=sys.stderr)
        return 1
    return 0


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _when(value: float | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat(timespec="seconds")


def _print_status(user: str, status: PinStatus, max_failures: int, *, as_json: bool) -> None:
    data = {
        "user": user,
        "enrolled": status.enrolled,
        "failures": status.failures,
        "max_failures": max_failures,
        "locked": status.locked,
        "locked_at": _when(status.locked_at),
        "next_attempt_at": _when(status.next_at),
        "enrolled_at": _when(status.enrolled_at),
        "changed_at": _when(status.changed_at),
    }
    if as_json:
        print(json.dumps(data))
        return
    for key, value in data.items():
        if value is not None:
            print(f"{key:16} {value}")
