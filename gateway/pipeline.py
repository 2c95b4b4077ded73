"""POST /sms: the message path, end to end.

    intake (JWT, body, parse) -> signals -> policy (overrides, then rules) -> Decision
      -> allow: provider router -> 200 | 502     block: rule's status     drop: 200, nothing sent
      -> every request: one event recorded, one log line

What Auth0 sees is only the HTTP status (200 = sent). A dropped message answers exactly like a sent
one, so a caller cannot learn that it was dropped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from gateway.appkeys import (
    CLOCK,
    EVENTS,
    FEEDBACK,
    LOG_FIELDS,
    METRICS,
    PHONE_HASH,
    PIPELINE,
    POLICY,
    REQUEST_ID,
    ROUTER,
    SETTINGS,
    SIGNALS,
    SPEND,
)
from gateway.clock import Clock
from gateway.errors import AllProvidersFailed, ClientGone, IntakeError
from gateway.events import EventSink, Outcome
from gateway.intake import PayloadParser, TokenVerifier
from gateway.logs import PhoneHasher, get_logger, mask_phone
from gateway.metrics import Metrics
from gateway.models import Action, Decision, OutboundSms, SendResult, SmsRequest
from gateway.policy import Policy
from gateway.providers.base import Router
from gateway.signals import Signals, SignalSource
from gateway.spend.ledger import SpendLedger
from gateway.web import one_header, read_body

log = get_logger("gateway.pipeline")

JSON_TYPES = ("application/json",)
# How far past the deadline the router may run before the path treats it as a defect.
ROUTER_GRACE_S = 2.0


class SentSink(Protocol):
    def sent(self, sms: SmsRequest, signals: Signals) -> None: ...


@dataclass
class MessagePath:
    """One object per app holding every stage of the path; `handle` is the POST /sms handler."""

    verifier: TokenVerifier
    parser: PayloadParser
    signals: SignalSource
    policy: Policy
    router: Router
    events: EventSink
    metrics: Metrics
    clock: Clock
    hasher: PhoneHasher
    deadline_s: float
    max_body_bytes: int
    feedback: SentSink | None = None  # told of every relayed code (completion feedback)
    spend: SpendLedger | None = None  # what sent messages cost (gateway/spend/ledger.py)

    async def handle(self, request: web.Request) -> web.Response:
        started = self.clock.monotonic()
        fields: dict[str, object] = request.get(LOG_FIELDS, {})
        request_id = _message_id(request)
        fields["message_id"] = request_id
        try:
            response, outcome = await self._process(request, request_id, started, fields)
        except Exception:
            # A defect in a stage: Auth0 gets a plain 500 (the login fails closed, nothing is
            # sent unchecked) and the traceback goes to the log with the request id.
            log.exception("message path failed", request_id=request_id)
            response = web.json_response({"error": "internal error"}, status=500)
            outcome = "error"
        fields["outcome"] = outcome
        self.metrics.requests.labels(outcome).inc()
        self.metrics.request_latency.observe(self.clock.monotonic() - started)
        return response

    async def _process(
        self, request: web.Request, request_id: str, started: float, fields: dict[str, object]
    ) -> tuple[web.Response, str]:
        try:
            self.verifier.verify(one_header(request, "Authorization"))
            raw = await self._read_body(request)
            sms = self.parser.parse(raw, request_id=request_id, received_at=self.clock.time())
        except IntakeError as exc:
            fields.update(error=exc.message, field=exc.field)
            outcome = "unauthorized" if exc.status == 401 else "rejected"
            if isinstance(exc, ClientGone):
                outcome = "aborted"
            return web.json_response(exc.as_json(), status=exc.status), outcome

        fields.update(
            recipient=mask_phone(sms.recipient),
            phone_hash=self.hasher(sms.recipient),
            shape=sms.shape,
        )
        signals = self.signals.compute(sms)
        fields.update(
            country=signals.phone_country,
            number_type=signals.number_type,
            ip=signals.ip,
            asn=signals.asn,
        )
        try:
            # Deciding must leave the router its time; nothing has been sent if this expires.
            async with asyncio.timeout(self._left(started)):
                decision = await self.policy.decide(sms, signals)
        except TimeoutError:
            latency = (self.clock.monotonic() - started) * 1000
            self.events.record(
                sms, signals, None, Outcome("error", 504, error="deadline", latency_ms=latency)
            )
            return web.json_response({"error": "deadline exceeded"}, status=504), "timeout"
        fields.update(action=decision.action.value, rule=decision.rule_id)
        self.metrics.decisions.labels(decision.action.value, decision.rule_id or "-").inc()
        for hit in decision.shadow:
            self.metrics.shadow_hits.labels(hit.rule_id, hit.action).inc()
        if decision.shadow:
            fields["shadow"] = [h.rule_id for h in decision.shadow]

        if decision.action is Action.ALLOW:
            return await self._send(sms, signals, decision, started, fields)
        latency = (self.clock.monotonic() - started) * 1000
        if decision.action is Action.DROP:
            self.events.record(sms, signals, decision, Outcome("dropped", 200, latency_ms=latency))
            return web.json_response(_accepted(sms)), "dropped"
        self.events.record(
            sms, signals, decision, Outcome("blocked", decision.status, latency_ms=latency)
        )
        body = {"error": "refused by policy", "rule": decision.rule_id}
        return web.json_response(body, status=decision.status), "blocked"

    async def _send(
        self,
        sms: SmsRequest,
        signals: Signals,
        decision: Decision,
        started: float,
        fields: dict[str, object],
    ) -> tuple[web.Response, str]:
        deadline = started + self.deadline_s
        outbound = OutboundSms(sms.request_id, sms.recipient, sms.body, signals.phone_country)
        result: SendResult | None = None
        error: str | None = None
        try:
            # The router keeps to the deadline itself; this outer bound only catches a defect.
            # Once a provider may have accepted the message, the answer, the counters and the
            # event are always completed: a late 504 would make Auth0's user ask for a 2nd SMS.
            async with asyncio.timeout(self._left(started) + ROUTER_GRACE_S):
                result = await self.router.send(outbound, deadline)
        except AllProvidersFailed as exc:
            error = str(exc)
        except TimeoutError:
            error = "the provider router overran the deadline"
            log.error(error, request_id=sms.request_id)
        finally:
            # Also on cancellation or a defect: a `count: sent` reservation must not leak.
            await self.policy.settle(sms, signals, decision, result is not None)
        latency = (self.clock.monotonic() - started) * 1000
        if result is None:
            fields["error"] = error
            self.events.record(
                sms, signals, decision, Outcome("failed", 502, error=error, latency_ms=latency)
            )
            return web.json_response({"error": "every SMS provider failed"}, status=502), "failed"
        fields.update(provider=result.provider, attempts=result.attempts)
        if self.feedback is not None:
            self.feedback.sent(sms, signals)
        if self.spend is not None:
            self.spend.sent(sms.request_id, sms.body, signals.phone_country, result.provider)
        self.events.record(
            sms,
            signals,
            decision,
            Outcome(
                "sent",
                200,
                provider=result.provider,
                provider_message_id=result.provider_message_id,
                latency_ms=latency,
            ),
        )
        return web.json_response(_accepted(sms)), "sent"

    def _left(self, started: float) -> float:
        return max(0.0, started + self.deadline_s - self.clock.monotonic())

    async def _read_body(self, request: web.Request) -> bytes:
        ctype = request.content_type
        if ctype not in JSON_TYPES and not ctype.endswith("+json"):
            raise IntakeError(
                415,
                f"Content-Type must be application/json, not {ctype or 'none'}",
                field="Content-Type",
            )
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise IntakeError(413, f"body over {self.max_body_bytes} bytes", field="body")
        return await read_body(request)


def _message_id(request: web.Request) -> str:
    """Our id for the message (provider message id, delivery-status key, events). A client's
    X-Request-Id names the request in the log only: two callers could choose the same one."""
    request_id = request.get(REQUEST_ID)
    if request_id and request_id != request.headers.get("X-Request-Id"):
        return str(request_id)  # generated by us for this request
    return uuid.uuid4().hex


def _accepted(sms: SmsRequest) -> dict[str, str]:
    # Identical for sent and dropped messages: the caller must not tell them apart.
    return {"status": "accepted", "message_id": sms.request_id}


def setup(app: web.Application) -> None:
    """Add POST /sms; the path is assembled at startup, once every stage exists."""
    settings = app[SETTINGS]

    async def build(app: web.Application) -> AsyncIterator[None]:
        app[PIPELINE] = MessagePath(
            verifier=TokenVerifier(settings.auth0, app[CLOCK]),
            parser=PayloadParser(settings.intake),
            signals=app[SIGNALS],
            policy=app[POLICY],
            router=app[ROUTER],
            events=app[EVENTS],
            metrics=app[METRICS],
            clock=app[CLOCK],
            hasher=app[PHONE_HASH],
            deadline_s=settings.intake.deadline_s,
            max_body_bytes=settings.intake.max_body_bytes,
            feedback=app.get(FEEDBACK),
            spend=spend.ledger if (spend := app.get(SPEND)) is not None else None,
        )
        if not app[PIPELINE].verifier.configured:
            log.warning("auth0.gateway_secret is not set: POST /sms refuses every request (401)")
        yield

    async def handle(request: web.Request) -> web.Response:
        path: MessagePath = request.app[PIPELINE]
        return await path.handle(request)

    app.cleanup_ctx.append(build)
    app.router.add_post("/sms", handle)
