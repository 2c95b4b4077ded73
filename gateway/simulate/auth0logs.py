"""Completed logins reported the way Auth0 reports them: tenant log events through a log stream.

A real user who enters the code produces an Auth0 log event of type `s` (successful login) with
the phone number in `user_name`, strategy `sms`, strategy type `passwordless`; a wrong code first
produces an `f` (failed login, "Wrong phone number or verification code.": Auth0 logs a bad
passwordless code as `f`, not `fp`, which is a wrong *password*). A Custom Webhook log stream
wraps each event as `{"log_id": ..., "data": {...}}` and POSTs them in batches (here a JSON array,
one of the stream's three content formats) with the `Authorization` value the operator set.

`LogStream` gathers events and hands each batch to a `Deliver` callable. `HttpDelivery` POSTs to
the gateway's `/v1/auth0/log-stream`; a gateway without that endpoint answers 404, which is
reported ("completions not delivered: endpoint absent"), not raised: the rest of the run goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from yarl import URL

from gateway.simulate.generate import SimRequest

LOG_STREAM_PATH = "v1/auth0/log-stream"
ENDPOINT_ABSENT = "completions not delivered: endpoint absent"
TENANT = "smsguard-simulate"
CONNECTION = "sms"

DeliveryStatus = Literal["delivered", "absent", "failed"]
Deliver = Callable[[list[dict[str, Any]]], Awaitable[DeliveryStatus]]


def iso_date(at: float) -> str:
    """Auth0's `date`: ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def log_id(req: SimRequest, kind: str, run_id: str) -> str:
    """A stable id per event (Auth0's are 56 characters); deliveries retried keep it."""
    digest = hashlib.sha256(f"{run_id}:{req.index}:{kind}".encode()).hexdigest()
    return "900" + digest[:53]


def login_event(req: SimRequest, kind: Literal["s", "f"], at: float, run_id: str) -> dict[str, Any]:
    """The log event Auth0 writes when the code sent by `req` is entered (`s`) or mistyped (`f`)."""
    event: dict[str, Any] = {
        "date": iso_date(at),
        "type": kind,
        "description": "" if kind == "s" else "Wrong phone number or verification code.",
        "connection": CONNECTION,
        "connection_id": "con_smsguardsim0001",
        "client_id": "smsguardSimulateClient0000000001",
        "client_name": "smsguard simulate",
        "ip": req.ip,
        "hostname": f"{TENANT}.eu.auth0.com",
        "user_id": f"sms|{hashlib.sha256(req.recipient.encode()).hexdigest()[:24]}",
        "user_name": req.recipient,
        "strategy": "sms",
        "strategy_type": "passwordless",
        "tenant_name": TENANT,
        "environment_name": "prod-eu-1",
        "log_id": log_id(req, kind, run_id),
        "$event_schema": {"version": "1.0.0"},
        "details": (
            {"prompts": [], "initiatedAt": at * 1000, "completedAt": at * 1000}
            if kind == "s"
            else {
                "error": {
                    "message": "Wrong phone number or verification code.",
                    "oauthError": "invalid_grant",
                }
            }
        ),
    }
    if req.user_agent:
        event["user_agent"] = req.user_agent
        event["is_mobile"] = "Mobile" in req.user_agent
    return event


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    """A record as a Custom Webhook stream sends it."""
    return {"log_id": event["log_id"], "data": event}


@dataclass
class LogStream:
    """Batches of log events delivered in order, at most `batch_size` a POST."""

    deliver: Deliver
    batch_size: int = 100
    pending: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    delivered: int = 0
    failed_batches: int = 0
    absent: bool = False

    def add(self, event: dict[str, Any]) -> None:
        self.events += 1
        self.pending.append(envelope(event))

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.batch_size

    async def flush(self) -> None:
        """Deliver what is pending (nothing once the endpoint turned out to be absent)."""
        batch, self.pending = self.pending, []
        if not batch or self.absent:
            return
        status = await self.deliver(batch)
        if status == "delivered":
            self.delivered += len(batch)
        elif status == "absent":
            self.absent = True
        else:
            self.failed_batches += 1

    @property
    def note(self) -> str | None:
        if self.absent:
            return ENDPOINT_ABSENT
        if self.failed_batches:
            return f"completions: {self.failed_batches} batch(es) refused by the endpoint"
        return None


class HttpDelivery:
    """POSTs a batch as a JSON array to the gateway's log-stream endpoint, like Auth0 does."""

    def __init__(self, session: aiohttp.ClientSession, base_url: URL, authorization: str) -> None:
        self._session = session
        self._url = base_url / LOG_STREAM_PATH
        self._authorization = authorization
        self.last_error: str | None = None
        # The endpoint's own counts (accepted, duplicates, matched ...), summed over batches.
        self.answers: Counter[str] = Counter()

    async def __call__(self, batch: list[dict[str, Any]]) -> DeliveryStatus:
        try:
            async with self._session.post(
                self._url,
                data=json.dumps(batch),
                headers={
                    "Authorization": self._authorization,
                    "Content-Type": "application/json",
                },
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                if resp.status == 404:
                    return "absent"
                if resp.status >= 300:
                    self.last_error = f"{resp.status} {(await resp.text())[:200]}"
                    return "failed"
                answer = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            return "failed"
        except ValueError:
            return "delivered"  # a 2xx without a JSON body: delivered, nothing to count
        if isinstance(answer, dict):
            self.answers.update(
                {k: v for k, v in answer.items() if isinstance(v, int) and not isinstance(v, bool)}
            )
        return "delivered"
