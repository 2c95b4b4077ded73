"""The sandbox provider: the fake phone that `make run`, demos and tests use.

It "delivers" a message by keeping it in Redis: a capped list of the last `keep` messages per
sandbox provider (LPUSH + LTRIM in one MULTI/EXEC). `GET /sandbox/messages` shows them, newest
first, optionally only those sent `?to=` one number. Unlike every other part of the gateway it
stores and shows full numbers and message bodies (one-time codes): that is its purpose, and the
reason it must never be configured, let alone exposed, in production.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, TypedDict

from aiohttp import web
from pydantic import Field
from redis.exceptions import RedisError

from gateway.appkeys import REDIS
from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.models import OutboundSms, SendResult
from gateway.providers.base import Deps, Provider
from gateway.providers.retry import CONNECT, TIMEOUT, SendFailed
from gateway.settings.providers import ProviderBase

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY_PREFIX = "smsguard:sandbox:"
_MAX_LIMIT = 1000


def sandbox_key(name: str) -> str:
    return f"{KEY_PREFIX}{name}"


class SandboxMessage(TypedDict):
    """One message a sandbox kept (a JSON item of its Redis list, newest first)."""

    message_id: str
    provider: str
    to: str
    body: str
    country: str | None
    at: float  # unix seconds


class SandboxSettings(ProviderBase):
    type: Literal["sandbox"]
    # How many recent messages to keep in Redis (a capped list, newest first).
    keep: int = Field(default=200, ge=1, le=100_000)
    # Serve them at GET /sandbox/messages. It shows full numbers and codes: never in production.
    expose: bool = False

    def build_provider(self, deps: Deps) -> Provider:
        return SandboxProvider(self, deps.redis, deps.clock, deps.metrics)


class SandboxProvider:
    def __init__(
        self, settings: SandboxSettings, redis: Redis, clock: Clock, metrics: Metrics
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self._redis = redis
        self._clock = clock
        self._metrics = metrics

    async def send(self, sms: OutboundSms, deadline: float) -> SendResult:
        started = self._clock.monotonic()
        budget = deadline - started
        entry: SandboxMessage = {
            "message_id": sms.message_id,
            "provider": self.name,
            "to": sms.to,
            "body": sms.body,
            "country": sms.country,
            "at": self._clock.time(),
        }
        key = sandbox_key(self.name)
        try:
            if budget <= 0:
                raise TimeoutError
            async with asyncio.timeout(budget):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.lpush(key, json.dumps(entry))
                    pipe.ltrim(key, 0, self.settings.keep - 1)
                    await pipe.execute()
        except (TimeoutError, RedisError, OSError) as exc:
            kind = TIMEOUT if isinstance(exc, TimeoutError) else CONNECT
            self._metrics.provider_errors.labels(self.name, kind).inc()
            raise SendFailed(
                self.name,
                f"sandbox store failed: {type(exc).__name__}",
                kind=kind,
                retryable=True,
            ) from None
        self._metrics.provider_latency.labels(self.name, "ok").observe(
            self._clock.monotonic() - started
        )
        return SendResult(self.name, f"sandbox-{sms.message_id}")


async def read_messages(
    redis: Redis, names: list[str], *, to: str | None = None, limit: int = 100
) -> list[SandboxMessage]:
    """The stored messages of the named sandboxes, newest first, optionally for one recipient."""
    found: list[SandboxMessage] = []
    for name in names:
        for raw in await redis.lrange(sandbox_key(name), 0, -1):
            entry: SandboxMessage = json.loads(raw)  # as send() wrote it
            if to is None or entry.get("to") == to:
                found.append(entry)
    found.sort(key=lambda e: float(e.get("at", 0)), reverse=True)
    return found[:limit]


def normalise_to(raw: str) -> str:
    """`?to=` as E.164; a '+' sent unencoded in a query string arrives as a space."""
    digits = raw.strip().lstrip("+")
    return "+" + digits


def messages_handler(names: list[str]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /sandbox/messages for the exposed sandboxes `names`: {"messages": [...]} newest first."""

    async def handler(request: web.Request) -> web.Response:
        to = request.query.get("to")
        try:
            limit = min(_MAX_LIMIT, max(1, int(request.query.get("limit", "100"))))
        except ValueError:
            raise web.HTTPBadRequest(text="limit must be a number") from None
        messages = await read_messages(
            request.app[REDIS], names, to=normalise_to(to) if to else None, limit=limit
        )
        return web.json_response({"messages": messages}, headers={"Cache-Control": "no-store"})

    return handler
