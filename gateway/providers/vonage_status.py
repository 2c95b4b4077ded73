"""Delivery receipts from Vonage's SMS API, verified by their signature and filed like Twilio's.

Vonage sends a receipt (DLR) for each message to the webhook set in its dashboard,
`<public_url>/providers/vonage/status`, as a GET query, a POST form or a POST JSON body (the
account's choice). With signed webhooks enabled it adds `timestamp`, `nonce` and `sig`:
  - every parameter but `sig`, sorted by name, each written `&name=value` with any `&` or `=` in
    the value replaced by `_`;
  - `md5hash` (Vonage's default): lowercase hex MD5 of that string followed by the signature
    secret; `md5`, `sha1`, `sha256`, `sha512`: hex HMAC of that string keyed by the secret
    (Vonage writes those in uppercase: hex is compared without regard to case).
The receipt names the sending account (`api-key`); a signature from any provider configured with
that key passes (secrets being rotated). Our message id comes back in `client-ref` (we set it when
sending). A replayed receipt can only repeat a status: the store never moves a message back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from gateway.appkeys import CLOCK, METRICS, REDIS
from gateway.logs import get_logger
from gateway.providers.status import MESSAGE_ID, RANK, record_delivery
from gateway.providers.vonage import VonageSettings
from gateway.spend.ledger import count_outcome
from gateway.web import read_body

log = get_logger("gateway.providers")

VONAGE_STATUS_PATH = "/providers/vonage/status"
_HMAC = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


def vonage_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """The `sig` Vonage puts on a webhook carrying `params` (a `sig` among them is left out)."""
    signed = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items())
        if name != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((signed + secret).encode()).hexdigest()  # noqa: S324 - Vonage's scheme
    return hmac.new(secret.encode(), signed.encode(), _HMAC[method]).hexdigest().upper()


def _matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.lower().encode(), given.lower().encode("utf-8", "replace"))


async def _params(request: web.Request) -> dict[str, str]:
    """The receipt's parameters, wherever Vonage put them (query, form or JSON body)."""
    params = dict(request.query.items())
    if request.method != "POST":
        return params
    if request.content_type == "application/json":
        raw = await read_body(request)  # decoded, size-capped, 4xx when unreadable
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise web.HTTPBadRequest(text="body: not JSON") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body: a JSON object of receipt fields")
        params.update({str(k): str(v) for k, v in body.items() if v is not None})
    else:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def vonage_status_handler(
    providers: list[VonageSettings],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET/POST /providers/vonage/status for the configured Vonage accounts with a secret."""
    by_key: dict[str, list[VonageSettings]] = {}
    for p in providers:
        if p.signature_secret is not None:
            by_key.setdefault(p.api_key, []).append(p)

    async def handler(request: web.Request) -> web.Response:
        params = await _params(request)
        candidates = by_key.get(params.get("api-key", ""), [])
        signature = params.get("sig", "")
        if not candidates or not signature:
            raise web.HTTPForbidden(text="unknown api-key or missing sig")
        found: VonageSettings | None = None
        for settings in candidates:  # every candidate checked: timing tells nothing
            assert settings.signature_secret is not None
            secret = settings.signature_secret.get_secret_value()
            expected = vonage_signature(secret, settings.signature_method, params)
            if _matches(expected, signature) and found is None:
                found = settings
        if found is None:
            log.warning("vonage receipt with a bad signature", provider=candidates[0].name)
            raise web.HTTPForbidden(text="bad signature")
        message_id = params.get("client-ref", "")
        status = params.get("status", "").lower()
        if not MESSAGE_ID.match(message_id) or not status:
            raise web.HTTPBadRequest(text="client-ref and status are required")
        fields = {
            "status": status,
            "provider": found.name,
            "provider_message_id": params.get("messageId", ""),
            "updated_at": str(request.app[CLOCK].time()),
        }
        if params.get("err-code", "0") not in ("", "0"):
            fields["error_code"] = params["err-code"]
        if params.get("price"):
            fields["provider_price"] = params["price"]
        if await record_delivery(request.app[REDIS], message_id, fields):
            await count_outcome(request.app[REDIS], message_id, status, request.app[CLOCK].time())
        label = status if status in RANK else "other"
        request.app[METRICS].delivery_status.labels(found.name, label).inc()
        return web.Response(status=200)  # Vonage retries anything but a 200

    return handler
