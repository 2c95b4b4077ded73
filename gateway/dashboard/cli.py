"""`smsguard dashboard ...`: password hashes for dashboard users, and overrides from a shell.

smsguard dashboard hash-password              prompt twice (or read one line from stdin)
smsguard dashboard overrides list             the active overrides (needs Redis from settings)
smsguard dashboard overrides add ip 203.0.113.7 --reason "bot" [--allow] [--expires 1h]
smsguard dashboard overrides remove ID --reason "false positive"
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime

from gateway.dashboard.auth import hash_password
from gateway.overrides import KINDS, OverrideError, Overrides

MIN_PASSWORD = 12
_UNITS = {"m": 60, "h": 3600, "d": 86_400}


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print an Argon2id hash for `dashboard.users[].password_hash`."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < args.min_length:
        print(f"use at least {args.min_length} characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def _duration(text: str) -> float:
    """'90m', '12h', '7d' -> seconds."""
    unit = text[-1:].lower()
    if unit not in _UNITS or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and m, h or d (30m, 12h, 7d)")
    return int(text[:-1]) * _UNITS[unit]


def _author() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"


async def _with_overrides(config: str | None, action: str, args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from gateway.cli import load_or_exit
    from gateway.clock import SystemClock
    from gateway.redisclient import build_redis

    settings = load_or_exit(config)
    redis: Redis = build_redis(settings.redis, connect_timeout_s=3)
    try:
        overrides = Overrides(redis, SystemClock())
        await overrides.reload()
        if action == "list":
            for o in overrides.active():
                expires = (
                    datetime.fromtimestamp(o.expires_at, UTC).isoformat(timespec="seconds")
                    if o.expires_at
                    else "never"
                )
                print(
                    f"{o.id}  {o.action:5}  {o.kind:7}  {o.shown:20}  expires {expires}  "
                    f"by {o.author}: {o.reason}"
                )
            return 0
        if action == "add":
            try:
                o = await overrides.add(
                    args.kind,
                    args.value,
                    "allow" if args.allow else "block",
                    reason=args.reason,
                    author=_author(),
                    expires_in_s=args.expires,
                    confirm_broad=args.confirm_broad,
                )
            except OverrideError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"{o.id}  {o.action} {o.kind} {o.shown}: applied on every instance")
            return 0
        removed = await overrides.remove(args.id, author=_author(), reason=args.reason)
        if removed is None:
            print(f"no override {args.id}", file=sys.stderr)
            return 1
        print(f"removed {removed.kind} {removed.shown}")
        return 0
    finally:
        await redis.aclose()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="dashboard users and overrides")
    dsub = p.add_subparsers(dest="dashboard_command", required=True, metavar="ACTION")

    h = dsub.add_parser("hash-password", help="print an Argon2id hash for dashboard.users")
    h.add_argument("--min-length", type=int, default=MIN_PASSWORD, help=argparse.SUPPRESS)
    h.set_defaults(func=cmd_hash_password)

    o = dsub.add_parser("overrides", help="list, add or remove block/allow overrides")
    osub = o.add_subparsers(dest="overrides_command", required=True, metavar="ACTION")

    ls = osub.add_parser("list", help="the active overrides")
    ls.add_argument("--config")
    ls.set_defaults(func=lambda a: asyncio.run(_with_overrides(a.config, "list", a)))

    add = osub.add_parser("add", help="block (or --allow) an ip, cidr, prefix or country")
    add.add_argument("kind", choices=KINDS)
    add.add_argument("value")
    add.add_argument("--reason", required=True)
    add.add_argument("--allow", action="store_true", help="allow instead of block")
    add.add_argument("--expires", type=_duration, help="30m, 12h, 7d (default: never)")
    add.add_argument(
        "--confirm-broad",
        action="store_true",
        help="allow a very broad target (CIDR wider than /8 or /32; allow wider than /16 or /48, "
        "or an allowed prefix under 3 digits)",
    )
    add.add_argument("--config")
    add.set_defaults(func=lambda a: asyncio.run(_with_overrides(a.config, "add", a)))

    rm = osub.add_parser("remove", help="remove an override by id")
    rm.add_argument("id")
    rm.add_argument("--reason", default="removed from the command line")
    rm.add_argument("--config")
    rm.set_defaults(func=lambda a: asyncio.run(_with_overrides(a.config, "remove", a)))
