"""Which incidents are open, shared by every replica through Redis, so each is told once.

Raising an incident that is already open only refreshes when it was last seen; the replica whose
call opened it sends the alert. An incident not raised again for `resolve_after_s` is closed by a
sweep that every replica runs; the one whose sweep removes it sends the resolve message. Each step
is one Lua script, so two replicas can never both open or both close the same incident.

Keys: `{sga}:active` (sorted set of open incident keys by last seen) and `{sga}:i:<key>` (the
alert as JSON); one hash tag, so the scripts stay on one Cluster slot. Without Redis, the same
rules run on a per-process table: alerts still go out, once per replica instead of once overall.
"""

from __future__ import annotations

import json
from typing import Protocol

from redis.asyncio import Redis

from gateway.alerts.model import Alert, Severity, Status

PREFIX = "{sga}:"
ACTIVE = PREFIX + "active"
SENT = PREFIX + "sent"  # the last alerts and resolve messages sent, newest first
SENT_KEEP = 200


async def sent_alerts(redis: Redis, count: int = 50) -> list[dict[str, object]]:
    """The last alerts sent (newest first), as kept by `remember`: what the Spend page lists."""
    return [json.loads(raw) for raw in await redis.lrange(SENT, 0, count - 1)]


_OPEN = """
local doc = KEYS[2] .. ARGV[1]
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('EXISTS', doc) == 1 then return 0 end
redis.call('SET', doc, ARGV[3], 'EX', ARGV[4])
return 1
"""

# Close every incident last seen before ARGV[1] (at most 100 a call), or the one named in ARGV[2].
_CLOSE = """
local keys
if ARGV[2] ~= '' then
  if redis.call('ZSCORE', KEYS[1], ARGV[2]) then keys = {ARGV[2]} else keys = {} end
else
  keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
end
local out = {}
for _, k in ipairs(keys) do
  if redis.call('ZREM', KEYS[1], k) == 1 then
    local doc = redis.call('GET', KEYS[2] .. k)
    redis.call('DEL', KEYS[2] .. k)
    if doc then table.insert(out, doc) end
  end
end
return out
"""


def to_json(alert: Alert) -> str:
    return json.dumps(
        {
            "key": alert.key,
            "severity": alert.severity.label,
            "title": alert.title,
            "summary": alert.summary,
            "since": alert.since,
            "link_path": alert.link_path,
            "values": alert.values,
        }
    )


def from_json(text: str | bytes) -> Alert:
    d = json.loads(text)
    return Alert(
        d["key"],
        Severity.parse(d["severity"]),
        d["title"],
        d["summary"],
        float(d["since"]),
        d["link_path"],
        dict(d["values"]),
        Status.FIRING,
    )


class Incidents(Protocol):
    async def open(self, alert: Alert, now: float) -> bool:
        """Mark the incident seen now; True when this call opened it (send the alert)."""
        ...

    async def close_quiet(self, before: float) -> list[Alert]:
        """Close the incidents last seen before `before`; the alerts this call closed."""
        ...

    async def close(self, key: str) -> Alert | None:
        """Close one incident now; its alert when this call closed it."""
        ...

    async def remember(self, alert: Alert, now: float) -> None:
        """Keep a sent alert (or resolve message) in the short list the Spend page shows."""
        ...


class RedisIncidents:
    def __init__(self, redis: Redis, keep_s: int) -> None:
        self._redis = redis
        self._keep_s = keep_s  # a safety expiry on documents, far beyond resolve_after_s
        self._open = redis.register_script(_OPEN)
        self._close = redis.register_script(_CLOSE)

    async def open(self, alert: Alert, now: float) -> bool:
        opened = await self._open(
            keys=[ACTIVE, PREFIX + "i:"], args=[alert.key, now, to_json(alert), self._keep_s]
        )
        return bool(opened)

    async def close_quiet(self, before: float) -> list[Alert]:
        docs = await self._close(keys=[ACTIVE, PREFIX + "i:"], args=[before, ""])
        return [from_json(d) for d in docs]

    async def close(self, key: str) -> Alert | None:
        docs = await self._close(keys=[ACTIVE, PREFIX + "i:"], args=[0, key])
        return from_json(docs[0]) if docs else None

    async def remember(self, alert: Alert, now: float) -> None:
        entry = {**json.loads(to_json(alert)), "status": alert.status.value, "at": now}
        pipe = self._redis.pipeline(transaction=False)
        pipe.lpush(SENT, json.dumps(entry))
        pipe.ltrim(SENT, 0, SENT_KEEP - 1)
        await pipe.execute()


class LocalIncidents:
    """The same rules in this process only: used while Redis is unreachable."""

    def __init__(self) -> None:
        self._open_alerts: dict[str, tuple[Alert, float]] = {}

    async def open(self, alert: Alert, now: float) -> bool:
        known = self._open_alerts.get(alert.key)
        self._open_alerts[alert.key] = (known[0] if known else alert, now)
        return known is None

    async def close_quiet(self, before: float) -> list[Alert]:
        quiet = [k for k, (_, seen) in self._open_alerts.items() if seen < before]
        return [self._open_alerts.pop(k)[0] for k in quiet]

    async def close(self, key: str) -> Alert | None:
        known = self._open_alerts.pop(key, None)
        return known[0] if known else None

    async def remember(self, alert: Alert, now: float) -> None:
        """Not kept while Redis is unreachable (the list is only what the page shows)."""
