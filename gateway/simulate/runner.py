"""Sends the planned requests to a running gateway over HTTP and finds out what became of each.

What Auth0 would see is only the status: 403/429 is a refusal; 200 is "accepted", which is either
sent or silently dropped. The 200 carries the gateway's message id (the same answer for both), so
the simulator asks the sandbox provider's inbox (`GET /sandbox/messages?to=...`) whether that
message id was stored: present means sent, absent means dropped. Each request also carries a
unique `X-Request-Id`, which names it in the gateway's log. Without an exposed sandbox the 200s
stay "accepted (unverified)".
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
import jwt
from yarl import URL

from gateway.clock import Clock
from gateway.errors import InputError
from gateway.simulate.generate import Shape, SimRequest

OutcomeName = Literal["sent", "blocked", "dropped", "accepted", "error", "skipped"]
REQUEST_TIMEOUT_S = 10.0


class RemoteRefused(InputError):
    """The target URL is not on this machine and --allow-remote was not given."""


def check_loopback(url: URL) -> None:
    """Refuse any host but localhost / 127.0.0.0/8 / ::1 (the simulator sends attack traffic)."""
    host = (url.host or "").strip("[]").lower()
    if url.scheme not in ("http", "https") or not host:
        raise RemoteRefused(f"{url}: not an http(s) URL with a host")
    if host == "localhost" or host.endswith(".localhost"):
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise RemoteRefused(
            f"{url}: only loopback targets (127.0.0.1, ::1, localhost) unless --allow-remote"
        ) from None
    if not address.is_loopback:
        raise RemoteRefused(f"{url}: {host} is not a loopback address; pass --allow-remote")


class TokenSigner:
    """Signs the Bearer token Auth0 would send (HS256 with the gateway secret), reused briefly."""

    def __init__(
        self,
        key: bytes,
        *,
        audience: str = "urn:MySmsGateway",
        subject: str = "urn:Auth0",
        now: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._audience = audience
        self._subject = subject
        self._now = now
        self._token = ""
        self._issued = 0.0

    def token(self) -> str:
        now = self._now()
        if not self._token or now - self._issued > 60:
            claims = {
                "sub": self._subject,
                "aud": self._audience,
                "iat": int(now),
                "exp": int(now) + 300,
            }
            self._token = jwt.encode(claims, self._key, algorithm="HS256")
            self._issued = now
        return self._token


@dataclass(frozen=True)
class Result:
    request: SimRequest
    outcome: OutcomeName
    status: int | None = None
    rule: str | None = None  # the rule id a refusal names, when the gateway says
    detail: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 8
    duration_limit_s: float = 600.0
    speed: float = 1.0  # play the timeline this many times faster (tests; quick looks)
    shape: Shape = "action"
    run_id: str = "run"
    verify: bool = True  # ask the sandbox inbox whether each 200 was sent or dropped


class Simulator:
    """Plays a planned timeline against `base_url` with at most `concurrency` requests in flight."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: URL,
        signer: TokenSigner,
        options: RunOptions,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._base = base_url
        self._signer = signer
        self._options = options
        self._clock = clock
        self._sleep = sleep
        self._sandbox_ok: bool | None = None if options.verify else False
        self.sandbox_note: str | None = None if options.verify else "verification turned off"
        self._unverified = 0

    @property
    def verified(self) -> bool:
        """Every 200 was told apart as sent or dropped (true when there was no 200 at all)."""
        return self._unverified == 0

    async def run(self, requests: list[SimRequest]) -> list[Result]:
        results: dict[int, Result] = {}
        slots = asyncio.Semaphore(self._options.concurrency)
        start = self._clock.monotonic()
        limit = start + self._options.duration_limit_s
        tasks: set[asyncio.Task[None]] = set()

        async def one(req: SimRequest) -> None:
            try:
                results[req.index] = await self._send(req)
            finally:
                slots.release()

        for req in requests:
            wait = start + req.at / self._options.speed - self._clock.monotonic()
            if wait > 0:
                await self._sleep(min(wait, max(0.0, limit - self._clock.monotonic())))
            if self._clock.monotonic() >= limit:
                break
            await slots.acquire()
            task = asyncio.create_task(one(req))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        return [
            results.get(req.index) or Result(req, "skipped", detail="duration limit reached")
            for req in requests
        ]

    async def _send(self, req: SimRequest) -> Result:
        headers = {
            "Authorization": f"Bearer {self._signer.token()}",
            "X-Request-Id": f"sim-{self._options.run_id}-{req.index:05d}",
        }
        started = self._clock.monotonic()
        try:
            async with self._session.post(
                self._base / "sms",
                json=req.payload(self._options.shape),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as resp:
                status = resp.status
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Result(req, "error", detail=f"{type(exc).__name__}: {exc}"[:200])
        latency = (self._clock.monotonic() - started) * 1000
        rule = body.get("rule") if isinstance(body, dict) else None
        if status in (403, 429):
            return Result(req, "blocked", status, rule=rule, latency_ms=latency)
        if status != 200:
            detail = str(body.get("error")) if isinstance(body, dict) else None
            return Result(req, "error", status, detail=detail, latency_ms=latency)
        answered_id = body.get("message_id") if isinstance(body, dict) else None
        sent = await self._in_sandbox(req.recipient, str(answered_id)) if answered_id else None
        if sent is None:
            self._unverified += 1
            return Result(req, "accepted", status, latency_ms=latency)
        return Result(req, "sent" if sent else "dropped", status, latency_ms=latency)

    async def _in_sandbox(self, recipient: str, message_id: str) -> bool | None:
        """Was `message_id` stored by the sandbox provider? None when the inbox is unavailable."""
        if self._sandbox_ok is False:
            return None
        try:
            async with self._session.get(
                self._base / "sandbox" / "messages",
                params={"to": recipient, "limit": "200"},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as resp:
                if resp.status != 200:
                    self._sandbox_ok = False
                    self.sandbox_note = (
                        f"GET /sandbox/messages answered {resp.status}: sent and dropped "
                        "messages cannot be told apart (expose a sandbox provider)"
                    )
                    return None
                data = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.sandbox_note = f"sandbox inbox unreadable: {type(exc).__name__}"
            return None
        self._sandbox_ok = True
        messages = data.get("messages", []) if isinstance(data, dict) else []
        return any(m.get("message_id") == message_id for m in messages if isinstance(m, dict))
