"""POST /v1/auth0/login-completed: the post-login Action (deploy/auth0/login-completed.js) reports
an SMS login, for tenants without a log stream.

Signed like POST /sms (the same HS256 JWT: `auth0.gateway_secret`, audience, subject). Body:
`{"phone_number": "+447700900123", "date": ISO 8601 (optional), "id": "..." (optional: a retried
report with the same id changes nothing)}`. Answers 200 with the summary, 400 naming the field,
401, or 503 when Redis is unavailable (the Action gives up quietly: a login never waits for us).
"""

from __future__ import annotations

import json

from aiohttp import web

from gateway.errors import IntakeError
from gateway.feedback.auth0log import MAX_LOG_ID, Batch, parse_date
from gateway.feedback.ingest import Ingest, StoreUnavailable
from gateway.feedback.logstream import read_limited
from gateway.feedback.store import Completion
from gateway.intake import TokenVerifier
from gateway.phone import phone_facts
from gateway.web import one_header

SOURCE = "action"
MAX_BODY = 4096


class LoginCompletedEndpoint:
    def __init__(self, ingest: Ingest, verifier: TokenVerifier) -> None:
        self.ingest = ingest
        self.verifier = verifier

    async def handle(self, request: web.Request) -> web.Response:
        try:
            self.verifier.verify(one_header(request, "Authorization"))
            completion = self._parse(await read_limited(request, MAX_BODY))
        except IntakeError as exc:
            self.ingest.rejected(SOURCE)
            return web.json_response(exc.as_json(), status=exc.status)
        try:
            summary = await self.ingest.apply(Batch([completion], 0, 1), source=SOURCE)
        except StoreUnavailable:
            return web.json_response({"error": "store unavailable"}, status=503)
        return web.json_response(summary.as_json())

    def _parse(self, raw: bytes) -> Completion:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise IntakeError(400, "body must be a JSON object", field="body") from None
        if not isinstance(body, dict):
            raise IntakeError(400, "body must be a JSON object", field="body")
        phone = body.get("phone_number")
        if not isinstance(phone, str) or not phone.startswith("+"):
            raise IntakeError(400, "must be a number in E.164 form", field="phone_number")
        facts = phone_facts(phone)
        if not facts.calling_code:
            raise IntakeError(400, "not a phone number", field="phone_number")
        report_id = body.get("id")
        if report_id is not None and (
            not isinstance(report_id, str) or not 0 < len(report_id) <= MAX_LOG_ID
        ):
            raise IntakeError(400, f"must be a string of 1-{MAX_LOG_ID} characters", field="id")
        at = parse_date(body.get("date"), "date", self.ingest.clock.time())
        return Completion(
            facts.e164, at, log_id=f"action:{report_id}" if report_id else None, source=SOURCE
        )
