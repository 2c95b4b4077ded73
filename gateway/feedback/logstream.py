"""POST /v1/auth0/log-stream: Auth0's Custom Webhook log stream delivers tenant log events here.

401  Authorization is not exactly `feedback.log_stream.authorization` (constant-time compare
     on bytes); nothing is read or stored
413  body over `feedback.log_stream.max_body_bytes`
400  not JSON lines / array / object, or a record is malformed: {"error", "field"} names the
     record index and field; nothing of the batch is stored
503  Redis unavailable or slow (the only 5xx; Retry-After): Auth0 redelivers, log_ids dedupe
200  {"records", "accepted", "duplicates", "ignored", "matched"}
"""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.errors import IntakeError
from gateway.feedback.auth0log import classify, parse_body
from gateway.feedback.ingest import Ingest, StoreUnavailable
from gateway.logs import get_logger
from gateway.web import one_header

log = get_logger("gateway.feedback")

SOURCE = "log_stream"


class LogStreamEndpoint:
    def __init__(self, ingest: Ingest, *, authorization: str, max_body_bytes: int) -> None:
        self.ingest = ingest
        self._expected = authorization.encode()
        self.max_body_bytes = max_body_bytes

    async def handle(self, request: web.Request) -> web.Response:
        try:
            self._authorize(one_header(request, "Authorization"))
            raw = await read_limited(request, self.max_body_bytes)
            batch = classify(parse_body(raw), source=SOURCE, received_at=self.ingest.clock.time())
        except IntakeError as exc:
            self.ingest.rejected(SOURCE)
            return web.json_response(exc.as_json(), status=exc.status)
        try:
            summary = await self.ingest.apply(batch, source=SOURCE)
        except StoreUnavailable as exc:
            log.warning("log stream batch not stored, Auth0 will retry", error=str(exc))
            return web.json_response(
                {"error": "store unavailable, retry later"},
                status=503,
                headers={"Retry-After": "5"},
            )
        return web.json_response(summary.as_json())

    def _authorize(self, header: str | None) -> None:
        given = (header or "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._expected):
            raise IntakeError(401, "Authorization does not match the log stream's", "Authorization")


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing (413) past `limit` bytes without reading further."""
    if request.content_length is not None and request.content_length > limit:
        raise IntakeError(413, f"body over {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65_536):
        size += len(chunk)
        if size > limit:
            raise IntakeError(413, f"body over {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)
