"""Delivery status: Twilio's status callbacks, verified and filed against our message id
(Vonage's receipts: gateway/providers/vonage_status.py, filed the same way).

Twilio posts `MessageStatus` (queued, sent, delivered, undelivered, failed ...) to the
StatusCallback URL we gave it, `<public_url>/providers/twilio/status?mid=<our message id>`, signed
with `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + every POST parameter as
key+value, sorted by key)). The URL checked is the configured callback URL (status_callback, or
server.public_url + path) with the raw (still percent-encoded) query string of the request; only
when neither is configured is it rebuilt from the request, honouring X-Forwarded-Proto and
X-Forwarded-Host. Providers sharing an account SID: a signature from any of their tokens passes.

A verified status is stored in the Redis hash `smsguard:delivery:{message_id}` for 7 days; a late
callback never moves a message back (a "sent" arriving after "delivered" is ignored); the check and
the write are one Lua script, so racing callbacks cannot undo this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.appkeys import CLOCK, METRICS, REDIS
from gateway.consttime import texts_equal
from gateway.logs import get_logger
from gateway.providers.twilio import STATUS_PATH, TwilioSettings, status_callback_base
from gateway.spend.ledger import count_outcome

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger("gateway.providers")

DELIVERY_PREFIX = "smsguard:delivery:"
DELIVERY_TTL_S = 7 * 24 * 3600
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# How far along a message is; a status never replaces one of a higher rank.
RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "read": 4,
    "canceled": 3,
    # Vonage's receipt statuses (gateway/providers/vonage_status.py)
    "buffered": 1,
    "unknown": 2,
    "expired": 3,
    "rejected": 3,
}


def delivery_key(message_id: str) -> str:
    return f"{DELIVERY_PREFIX}{message_id}"


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature for a POST to `url` with form `params`.

    Keys sorted; a repeated key contributes each distinct value once, in sorted order (as Twilio's
    own validators do).
    """
    payload = url + "".join(k + v for k, v in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def delivery_status(redis: Redis, message_id: str) -> dict[str, str] | None:
    """The last delivery status recorded for our message id, or None when none arrived."""
    raw = await redis.hgetall(delivery_key(message_id))
    if not raw:
        return None
    return {_text(k): _text(v) for k, v in raw.items()}


# Store the status unless the stored one ranks higher, in one atomic step (two callbacks racing
# cannot interleave). KEYS[1] the hash; ARGV: ttl, rank table as "status=rank,...", then the
# fields as name, value pairs (the first pair is "status").
_RECORD_SCRIPT = """
local ranks = {}
for name, rank in string.gmatch(ARGV[2], "([^,=]+)=(%d+)") do ranks[name] = tonumber(rank) end
local current = redis.call('HGET', KEYS[1], 'status')
if current and (ranks[current] or 0) > (ranks[ARGV[4]] or 0) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
_RANK_ARG = ",".join(f"{name}={rank}" for name, rank in RANK.items())


async def record_delivery(
    redis: Redis, message_id: str, fields: dict[str, str], *, ttl_s: int = DELIVERY_TTL_S
) -> bool:
    """Store a status unless a later one is already there (atomically); return whether stored."""
    pairs = [("status", fields["status"])] + [(k, v) for k, v in fields.items() if k != "status"]
    args = [str(ttl_s), _RANK_ARG, *(item for pair in pairs for item in pair)]
    stored = await redis.eval(_RECORD_SCRIPT, 1, delivery_key(message_id), *args)
    return bool(stored)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _request_url(request: web.Request) -> str:
    """The URL Twilio called, rebuilt from the request (X-Forwarded-Proto/Host honoured)."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}{request.raw_path}"


def _signed_url(request: web.Request, configured: str | None) -> str:
    """The URL as Twilio signed it: the query string exactly as sent (still percent-encoded)."""
    if configured is None:
        return _request_url(request)
    base = configured.split("?", 1)[0]
    query = request.rel_url.raw_query_string
    return f"{base}?{query}" if query else base


def _verified(
    entries: list[tuple[TwilioSettings, str | None]],
    request: web.Request,
    params: list[tuple[str, str]],
    signature: str,
) -> TwilioSettings | None:
    """The provider whose auth token produced `signature` for this request, or None."""
    found: TwilioSettings | None = None
    for settings, configured in entries:
        expected = twilio_signature(
            settings.auth_token.get_secret_value(), _signed_url(request, configured), params
        )
        # Every candidate is checked (no early exit), so timing says nothing about which matched.
        if texts_equal(expected, signature) and found is None:
            found = settings
    return found


def status_handler(
    providers: list[TwilioSettings], public_url: str | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /providers/twilio/status for the configured Twilio accounts.

    Several providers may share one account SID (different senders, or auth tokens being
    rotated): a signature valid for any of their tokens is accepted, and the status is filed
    under the provider whose token matched.
    """
    by_account: dict[str, list[tuple[TwilioSettings, str | None]]] = {}
    for p in providers:
        by_account.setdefault(p.account_sid, []).append((p, status_callback_base(p, public_url)))

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        params = [(k, v) for k, v in form.items() if isinstance(v, str)]
        account = form.get("AccountSid")
        entries = by_account.get(account, []) if isinstance(account, str) else []
        signature = request.headers.get("X-Twilio-Signature", "")
        if not entries or not signature:
            raise web.HTTPForbidden(text="unknown account or missing signature")
        settings = _verified(entries, request, params, signature)
        if settings is None:
            log.warning("twilio callback with a bad signature", provider=entries[0][0].name)
            raise web.HTTPForbidden(text="bad signature")
        message_id = request.query.get("mid", "")
        status = form.get("MessageStatus")
        if not MESSAGE_ID.match(message_id) or not isinstance(status, str) or not status:
            raise web.HTTPBadRequest(text="mid and MessageStatus are required")
        status = status.lower()
        fields = {
            "status": status,
            "provider": settings.name,
            "provider_message_id": str(form.get("MessageSid", "")),
            "updated_at": str(request.app[CLOCK].time()),
        }
        error_code = form.get("ErrorCode")
        if isinstance(error_code, str) and error_code:
            fields["error_code"] = error_code
        if await record_delivery(request.app[REDIS], message_id, fields):
            await count_outcome(request.app[REDIS], message_id, status, request.app[CLOCK].time())
        label = status if status in RANK else "other"
        request.app[METRICS].delivery_status.labels(settings.name, label).inc()
        return web.Response(status=204)

    return handler


__all__ = ["STATUS_PATH", "delivery_status", "status_handler", "twilio_signature"]
