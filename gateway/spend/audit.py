"""Who changed a budget: budgets live in the rule files, so a reload that changes one is recorded.

Every instance watches the running rule set (a cheap in-process comparison of its version every few
seconds); when the set differs from the budgets last recorded in Redis, the change is written once
for the whole fleet (SET NX on the rule set's version) to the list `smsguard:{spend}:audit`: when,
which rule, the budget before and after, the rule set's version and file, and the file's last git
author when the rules folder is a git checkout (the usual way rules are deployed and reviewed).
Budgets are edited in the rule files only: the page shows this trail, it does not edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.logs import get_logger
from gateway.policy.loader import RuleSet
from gateway.spend.rates import Rates

log = get_logger("gateway.spend")

AUDIT = "smsguard:{spend}:audit"  # one hash tag: the change and its audit are one MULTI
CURRENT = "smsguard:{spend}:budgets"  # rule id -> the budget as last recorded
_SEEN = "smsguard:{spend}:audit-version:"
AUDIT_KEEP = 500
POLL_S = 5.0


def budget_table(rules: RuleSet, rates: Rates) -> dict[str, str]:
    """Each budget rule's budget in words (`country: $50.00 daily (Asia/Bishkek)`, mode)."""
    return {
        r.id: f"{r.budget.describe(rates)}, {r.action}" + (" (shadow)" if r.shadow else "")
        for r in rules.rules
        if r.budget is not None
    }


def git_author(file: str) -> str | None:
    """The last commit author of a rule file, when its folder is a git checkout."""
    argv = ["git", "-C", str(Path(file).parent), "log", "-1", "--format=%an <%ae>", "--", file]
    try:
        # A fixed argv, no shell; `git` from PATH (absent: no author, nothing else changes).
        run = subprocess.run(argv, capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return run.stdout.strip() or None if run.returncode == 0 else None


async def record_changes(redis: Redis, rules: RuleSet, rates: Rates, now: float) -> int:
    """Record how the budgets of `rules` differ from the last recorded ones; the entries added."""
    table = budget_table(rules, rates)
    raw = await redis.hgetall(CURRENT)
    before = {_text(k): _text(v) for k, v in raw.items()}
    if table == before:
        return 0
    if not await redis.set(_SEEN + rules.version, "1", nx=True, ex=86_400 * 30):
        return 0  # another instance recorded this version
    entries = []
    for rule_id in sorted(set(table) | set(before)):
        if table.get(rule_id) == before.get(rule_id):
            continue
        rule = rules.rule(rule_id)
        file = rule.location.file if rule is not None else ""
        author = await asyncio.to_thread(git_author, file) if file else None
        entries.append(
            json.dumps(
                {
                    "at": now,
                    "rule": rule_id,
                    "before": before.get(rule_id),
                    "after": table.get(rule_id),
                    "version": rules.version,
                    "file": file,
                    "author": author,
                }
            )
        )
    pipe = redis.pipeline(transaction=True)
    pipe.delete(CURRENT)
    if table:
        pipe.hset(CURRENT, items=[part for pair in table.items() for part in pair])
    pipe.lpush(AUDIT, *entries)
    pipe.ltrim(AUDIT, 0, AUDIT_KEEP - 1)
    await pipe.execute()
    log.info("budgets_changed", version=rules.version, changes=len(entries))
    return len(entries)


async def budget_audit(redis: Redis, count: int = 50) -> list[dict[str, object]]:
    """The latest budget changes, newest first."""
    return [json.loads(raw) for raw in await redis.lrange(AUDIT, 0, count - 1)]


async def watch_rules(
    redis: Redis, current: Callable[[], RuleSet | None], rates: Rates, now: Callable[[], float]
) -> None:
    """Record budget changes whenever the running rule set's version changes (until cancelled)."""
    seen = ""
    while True:
        rules = current()
        if rules is not None and rules.version != seen:
            with contextlib.suppress(RedisError, OSError):
                await record_changes(redis, rules, rates, now())
                seen = rules.version
        # Until the engine is up (it starts after this stage), look again soon.
        await asyncio.sleep(POLL_S if rules is not None else 0.2)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
