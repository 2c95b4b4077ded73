"""`smsguard feedback backfill`: load past SMS logins from the Auth0 Management API.

Needs `feedback.backfill.client_id` / `client_secret` (a machine-to-machine application with the
`read:logs` scope) and the tenant domain (`feedback.backfill.domain`, else `auth0.tenant_domain`).
Resumes from the checkpoint saved in Redis; `--restart` starts again from the oldest retained event
(log_ids make that harmless). Exit status: 0 caught up, 1 the API or Redis failed, 2 bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.clock import SystemClock
from gateway.metrics import Metrics
from gateway.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("feedback", help="completion feedback tools (backfill from Auth0)")
    fsub = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    b = fsub.add_parser("backfill", help="load past SMS logins from GET /api/v2/logs")
    b.add_argument("--config", help="settings YAML (default: $SMSGUARD_CONFIG)")
    b.add_argument("--from", dest="start_from", help="start after this log_id")
    b.add_argument("--restart", action="store_true", help="ignore the saved checkpoint")
    b.add_argument("--max-pages", type=int, default=None, help="stop after this many pages")
    b.set_defaults(func=cmd_backfill)


def cmd_backfill(args: argparse.Namespace) -> int:
    from gateway.cli import load_or_exit

    settings = load_or_exit(args.config)
    backfill = settings.feedback.backfill
    domain = backfill.domain or settings.auth0.tenant_domain
    missing = [
        name
        for name, value in (
            ("feedback.backfill.domain (or auth0.tenant_domain)", domain),
            ("feedback.backfill.client_id", backfill.client_id),
            ("feedback.backfill.client_secret", backfill.client_secret),
        )
        if not value
    ]
    if missing:
        print(f"{settings.source}: set {', '.join(missing)}", file=sys.stderr)
        return 2
    secret = backfill.client_secret.get_secret_value() if backfill.client_secret else ""
    return asyncio.run(_backfill(settings, args, domain or "", backfill.client_id or "", secret))


async def _backfill(
    settings: Settings, args: argparse.Namespace, domain: str, client_id: str, secret: str
) -> int:
    from gateway.feedback import counter_secret, store_config
    from gateway.feedback.backfill import CHECKPOINT_KEY, Backfill, BackfillError, ManagementApi
    from gateway.feedback.ingest import Ingest, StoreUnavailable
    from gateway.feedback.keys import FeedbackKeys
    from gateway.feedback.store import FeedbackStore
    from gateway.redisclient import build_redis
    from gateway.velocity import CounterKeys

    clock = SystemClock()
    redis: Redis = build_redis(settings.redis)
    try:
        store = FeedbackStore(
            redis, FeedbackKeys(CounterKeys(None)), store_config(settings.feedback)
        )
        await store.resolve_secret(counter_secret(settings))
        if args.restart:
            await redis.delete(CHECKPOINT_KEY)
        ingest = Ingest(store, clock=clock, metrics=Metrics(), deadline_s=10.0)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            api = ManagementApi(session, domain, client_id, secret, clock=clock)
            job = Backfill(api, ingest, redis, max_pages=args.max_pages)
            progress = await job.run(args.start_from)
    except (BackfillError, StoreUnavailable, RedisError, OSError, aiohttp.ClientError) as exc:
        print(f"backfill stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
    for problem in progress.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(
        f"pages {progress.pages}, events {progress.events}, SMS logins and failures "
        f"{progress.completions} new, {progress.duplicates} already known, {progress.ignored} "
        f"other events, {progress.rejected} malformed, rate limited {progress.rate_limited}x; "
        f"checkpoint {progress.checkpoint or '-'}"
    )
    return 0
