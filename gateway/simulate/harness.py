"""The gateway under simulation: the real app, in this process, on a clock the simulator moves.

`Harness` owns a private redis-server (unless given a Redis URL) and, per run, a fresh gateway
app built by `create_app(settings, clock=FakeClock)` and served on a free loopback port: the same
code path as production (HTTP, JWT check, signals, rules, velocity in Redis, sandbox provider),
with an empty Redis so no counter or baseline carries over from the previous run.

Settings are the operator's (`--config`, optional) with the simulator's parts on top: its Redis,
a sandbox provider keeping the last message, a generated gateway secret, the rules folder, the
synthetic GeoIP databases describing the simulated address pools, and, when this gateway version
has the `feedback` section, a generated log-stream `Authorization` value.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from yarl import URL

from gateway.clock import FakeClock
from gateway.providers.sandbox import sandbox_key
from gateway.redisproc import RedisProcess, free_port
from gateway.settings import Settings, build_settings
from gateway.simulate.auth0logs import LogStream
from gateway.simulate.generate import Shape
from gateway.simulate.runner import Simulator, TokenSigner

# Monday 2 March 2026, 00:00 UTC: simulated runs start here (dates in log events, windows).
SIM_START = 1_772_409_600.0
SANDBOX = "sandbox"


@dataclass(frozen=True)
class Gateway:
    """One running gateway: where it answers, its clock, and its log-stream credential."""

    url: URL
    clock: FakeClock
    secret: str
    log_stream_authorization: str | None  # None: this gateway has no feedback settings
    redis: Redis

    def simulator(
        self,
        session: aiohttp.ClientSession,
        stream: LogStream,
        *,
        shape: Shape = "action",
        run_id: str = "run",
    ) -> Simulator:
        """A simulator that plays against this gateway on its clock, signed with its secret."""
        return Simulator(
            session,
            self.url,
            TokenSigner(self.secret.encode(), now=self.clock.time),  # tokens in simulated time
            self.clock,
            stream,
            self.was_sent,
            shape=shape,
            run_id=run_id,
        )

    async def was_sent(self, recipient: str, message_id: str) -> bool | None:
        """Was `message_id` the sandbox's last stored message (it keeps one)? One Redis call,
        cheaper than asking `GET /sandbox/messages` after every 200."""
        try:
            raw = await self.redis.lindex(sandbox_key(SANDBOX), 0)
        except (RedisError, OSError):
            return None
        if raw is None:
            return False
        entry = json.loads(raw)
        return bool(entry.get("message_id") == message_id and entry.get("to") == recipient)


PROMPT_FEEDBACK = {"batch_size": 1, "flush_interval_ms": 1}


def feedback_supported() -> bool:
    """Does this gateway version have the `feedback` settings section (the log stream)?"""
    return "feedback" in Settings.model_fields


def _feedback_keys() -> set[str]:
    section = Settings.model_fields["feedback"].annotation
    fields = getattr(section, "model_fields", None)
    return set(fields) if isinstance(fields, dict) else set()


def write_geoip_or_none(directory: Path) -> dict[str, Path]:
    """The synthetic GeoIP databases for the simulated pools (none without the dev extra: IP
    signals are then unknown, as on a gateway without MaxMind databases)."""
    from gateway.simulate.geoipdb import write_databases

    try:
        return write_databases(directory)
    except RuntimeError:
        return {}


class Harness:
    """Redis and GeoIP set up once; `gateway()` starts a fresh app per scenario run."""

    def __init__(
        self,
        *,
        rules: Path,
        base: dict[str, Any] | None = None,
        redis_url: str | None = None,
        geoip: bool = True,
    ) -> None:
        self._rules = rules
        self._base = base or {}
        self._redis_url = redis_url
        self._geoip = geoip
        self._geoip_paths: dict[str, Path] = {}
        self._redis: RedisProcess | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Harness:
        self._tmp = tempfile.TemporaryDirectory(prefix="smsguard-simulate-")
        if self._redis_url is None:
            self._redis = RedisProcess(Path(self._tmp.name) / "redis", appendonly=False).start()
            self._redis_url = self._redis.url
        if self._geoip:
            # In this harness's own folder: the gateway maps the files into memory, and another
            # simulation rewriting a shared copy under it would crash it (SIGBUS).
            self._geoip_paths = write_geoip_or_none(Path(self._tmp.name) / "geoip")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._redis is not None:
            self._redis.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def settings(self, secret: str, authorization: str | None) -> Settings:
        data: dict[str, Any] = {k: v for k, v in self._base.items() if k != "source"}
        # A busy machine must not change the figures: a Redis call that overran the usual 50 ms
        # budget would fall back to local counters (real time) and make a seed unrepeatable.
        data["redis"] = {**data.get("redis", {}), "url": self._redis_url, "call_timeout_ms": 10_000}
        data["intake"] = {**data.get("intake", {}), "deadline_s": 29}
        data["auth0"] = {**data.get("auth0", {}), "gateway_secret": secret}
        data["rules"] = {**data.get("rules", {}), "path": str(self._rules), "watch": False}
        data["providers"] = [{"name": SANDBOX, "type": "sandbox", "expose": True, "keep": 1}]
        data.pop("routes", None)
        data["logging"] = {"level": "error", "format": "json"}
        if self._geoip_paths:
            data["geoip"] = {key: str(path) for key, path in self._geoip_paths.items()}
        if authorization is not None:
            feedback = data.setdefault("feedback", {})
            feedback["log_stream"] = {
                **feedback.get("log_stream", {}),
                "authorization": authorization,
            }
            # Sent codes are written behind the request (a queue flushed every 250 ms of real
            # time): a login minutes later in simulated time comes milliseconds later here, so
            # each write goes at once, before the next request.
            feedback.update({k: v for k, v in PROMPT_FEEDBACK.items() if k in _feedback_keys()})
        return build_settings(data, environ={})

    @asynccontextmanager
    async def gateway(self) -> AsyncIterator[Gateway]:
        """A fresh gateway on an empty Redis and a clock at SIM_START."""
        from gateway.app import create_app

        assert self._redis_url is not None, "use the Harness as a context manager"
        redis = Redis.from_url(self._redis_url)
        await redis.flushdb()
        secret = secrets.token_urlsafe(32)
        authorization = f"Bearer {secrets.token_urlsafe(24)}" if feedback_supported() else None
        clock = FakeClock(SIM_START)
        app = create_app(self.settings(secret, authorization), clock=clock)
        runner = web.AppRunner(app, access_log=None)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(redis.aclose)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield Gateway(URL(f"http://127.0.0.1:{port}"), clock, secret, authorization, redis)
