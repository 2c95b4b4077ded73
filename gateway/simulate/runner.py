"""Plays a planned scenario against the gateway on a simulated clock, and reports completions.

The gateway app runs in this process with an injected `FakeClock` (see `harness`); requests go
to it over real HTTP on loopback, one at a time in planned order, and before each one the clock is
moved to its planned time. Hours of traffic therefore play in seconds, and every velocity window,
event timestamp and completion date is in simulated time.

What a caller of `/sms` sees is only the status: 403/429 is a refusal; 200 is either sent or
silently dropped. The sandbox provider keeps the last message (`keep: 1`), so after a 200 the
simulator asks an injected `SentCheck` (the harness reads the sandbox's Redis list) whether its
message id was the one stored.

A real user whose SMS was sent enters the code 10-120 s later (70-90% of codes): a login event
goes to the `LogStream`, which delivers batches to the gateway like an Auth0 log stream, in order
with the /sms traffic. A user who got no SMS asks again (up to twice) after 20-60 s.
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
import jwt
from yarl import URL

from gateway.clock import FakeClock
from gateway.simulate.auth0logs import LogStream, login_event
from gateway.simulate.generate import Shape, SimRequest

OutcomeName = Literal["sent", "blocked", "dropped", "error"]
REQUEST_TIMEOUT_S = 10.0
BATCH_DELAY_S = 5.0  # a log stream delivers a few seconds after the events

# (recipient, message id) -> was that message stored by the sandbox provider? None: unknown.
SentCheck = Callable[[str, str], Awaitable[bool | None]]


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


# Timeline entries: (simulated second, order within that second, sequence, what)
_REQUEST, _LOGIN, _FLUSH = 0, 1, 2


class Simulator:
    """Sends one scenario's requests in simulated time and feeds completions back."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: URL,
        signer: TokenSigner,
        clock: FakeClock,
        stream: LogStream,
        was_sent: SentCheck,
        *,
        shape: Shape = "action",
        run_id: str = "run",
        new_code: Callable[[SimRequest], str] | None = None,
    ) -> None:
        self._session = session
        self._base = base_url
        self._signer = signer
        self._clock = clock
        self._stream = stream
        self._was_sent = was_sent
        self._shape = shape
        self._run_id = run_id
        self._new_code = new_code or (lambda req: f"{(int(req.code) * 7 + 1) % 1_000_000:06d}")
        self._flush_at: float | None = None

    async def run(self, planned: list[SimRequest]) -> list[Result]:
        start = self._clock.time()
        timeline: list[tuple[float, int, int, SimRequest | None]] = [
            (req.at, _REQUEST, req.index, req) for req in planned
        ]
        heapq.heapify(timeline)
        sequence = len(planned)
        results: list[Result] = []
        while timeline:
            at, what, _, req = heapq.heappop(timeline)
            self._clock.advance(max(0.0, start + at - self._clock.time()))
            if what == _FLUSH or req is None:
                self._flush_at = None
                await self._stream.flush()
                continue
            if what == _LOGIN:
                if req.wrong_code_first:
                    self._stream.add(login_event(req, "f", self._clock.time() - 8, self._run_id))
                self._stream.add(login_event(req, "s", self._clock.time(), self._run_id))
                if self._stream.full:
                    await self._stream.flush()
                elif self._flush_at is None:
                    self._flush_at = at + BATCH_DELAY_S
                    heapq.heappush(timeline, (self._flush_at, _FLUSH, sequence, None))
                    sequence += 1
                continue
            result = await self.send(req)
            results.append(result)
            if result.outcome == "sent" and req.uses_code:
                heapq.heappush(timeline, (at + req.use_after, _LOGIN, sequence, req))
                sequence += 1
            elif result.outcome != "sent" and req.label == "legit" and req.resends > 0:
                again = dataclasses.replace(
                    req,
                    index=sequence,
                    at=round(at + req.resend_after, 3),
                    code=self._new_code(req),
                    resends=req.resends - 1,
                    retry=True,
                )
                heapq.heappush(timeline, (again.at, _REQUEST, sequence, again))
                sequence += 1
        await self._stream.flush()
        return results

    async def send(self, req: SimRequest) -> Result:
        headers = {
            "Authorization": f"Bearer {self._signer.token()}",
            # Names the request in the gateway's log; the gateway picks the message id itself.
            "X-Request-Id": f"sim-{self._run_id}-{req.index:06d}",
        }
        try:
            async with self._session.post(
                self._base / "sms",
                json=req.payload(self._shape),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as resp:
                status = resp.status
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Result(req, "error", detail=f"{type(exc).__name__}: {exc}"[:200])
        rule = body.get("rule") if isinstance(body, dict) else None
        if status in (403, 429):
            return Result(req, "blocked", status, rule=rule)
        if status != 200:
            detail = str(body.get("error")) if isinstance(body, dict) else None
            return Result(req, "error", status, detail=detail)
        message_id = body.get("message_id") if isinstance(body, dict) else None
        if not isinstance(message_id, str):
            return Result(req, "error", status, detail="200 without a message_id")
        sent = await self._was_sent(req.recipient, message_id)
        if sent is None:
            return Result(req, "error", status, detail="sandbox inbox unreadable")
        return Result(req, "sent" if sent else "dropped", status)
