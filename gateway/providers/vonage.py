"""Vonage (Nexmo) SMS API: POST /sms/json, form-encoded api_key, api_secret, from, to, text.

Vonage answers HTTP 200 even when it refuses: each `messages[].status` is "0" on success and an
error code otherwise (x-errors in Vonage's API specification). Of those, 1 (throttled),
5 (internal error) and 10 (too many existing binds) are worth retrying; the rest are refusals.
A long text is split into parts: when some parts were sent and the others got a retryable status,
the message counts as sent (a warning, kind "partial"), since resending it would repeat the parts
already delivered. A refusal of any part (e.g. status 12, too long) is still a failure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.logs import get_logger
from gateway.models import OutboundSms
from gateway.providers.base import Deps, Provider
from gateway.providers.http import HttpAnswer, HttpCall, HttpProvider, safe_text
from gateway.providers.retry import AUTH, REJECTED, THROTTLED, SendFailed
from gateway.settings.base import Secret
from gateway.settings.providers import ProviderBase

log = get_logger("gateway.providers")

# Status codes (as strings, as Vonage sends them) that say "try again later".
RETRYABLE_STATUS = {"1": THROTTLED, "5": "server_error", "10": THROTTLED}
# Status codes that are about our account or credentials, not the message.
ACCOUNT_STATUS = {"4", "8", "9", "11", "14", "32"}
# Metrics/log kind of a long message some of whose parts were sent and others throttled/failed.
PARTIAL = "partial"
# `client-ref` holds our message id; Vonage accepts up to 40 characters.
_CLIENT_REF_MAX = 40


class VonageSettings(ProviderBase):
    type: Literal["vonage"]
    base_url: str = "https://rest.nexmo.com"
    api_key: str
    api_secret: Secret
    # Sender id: a Vonage number (E.164) or an alphanumeric name where the country allows it.
    from_: str = Field(alias="from")
    # Signed delivery receipts (GET/POST <public_url>/providers/vonage/status): the account's
    # signature secret and the method chosen in Vonage's dashboard. Without a secret, receipts
    # are refused (an unsigned receipt could mark any message delivered).
    signature_secret: Secret | None = None
    signature_method: Literal["md5hash", "md5", "sha1", "sha256", "sha512"] = "md5hash"

    def build_provider(self, deps: Deps) -> Provider:
        return VonageProvider(self, deps.session, deps.clock, deps.metrics)


class VonageProvider(HttpProvider):
    settings: VonageSettings

    def build(self, sms: OutboundSms) -> HttpCall:
        s = self.settings
        form = {
            "api_key": s.api_key,
            "api_secret": s.api_secret.get_secret_value(),
            "from": s.from_.removeprefix("+"),
            "to": sms.to.removeprefix("+"),
            "text": sms.body,
            "client-ref": sms.message_id[:_CLIENT_REF_MAX],
        }
        if not sms.body.isascii():
            form["type"] = "unicode"
        return HttpCall(
            "POST", f"{s.base_url}/sms/json", form=form, headers={"Accept": "application/json"}
        )

    def accept(self, answer: HttpAnswer) -> str:
        if answer.status != 200:
            raise self.http_failure(answer, "")
        data = answer.json()
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, list) or not messages:
            # HTTP 200: the message is probably on its way, so it counts as sent.
            return self.unreadable(answer, "HTTP 200 without messages[]")
        parts = [part if isinstance(part, dict) else {} for part in messages]
        accepted = [part for part in parts if str(part.get("status", "")) == "0"]
        # A long text is split into parts, each with its own status; all should be "0".
        failure: SendFailed | None = None
        for part in parts:
            status = str(part.get("status", ""))
            if status == "0":
                continue
            text = safe_text(part.get("error-text", ""))
            message = f"status {status or '?'}: {text}".rstrip(": ")
            if status in RETRYABLE_STATUS:
                failure = failure or SendFailed(
                    self.name, message, kind=RETRYABLE_STATUS[status], retryable=True
                )
                continue
            kind = AUTH if status in ACCOUNT_STATUS else REJECTED
            raise SendFailed(self.name, message, kind=kind, retryable=False)
        if failure is not None and not accepted:
            raise failure
        if failure is not None:
            # Some parts already went out: resending the whole text (here or elsewhere) would
            # deliver those parts twice, so the message counts as sent, with a warning.
            self._metrics.provider_errors.labels(self.name, PARTIAL).inc()
            log.warning(
                "some parts of a long message were not sent; not resending the others",
                provider=self.name,
                kind=PARTIAL,
                parts=len(parts),
                sent_parts=len(accepted),
                error=failure.message,
            )
        first = accepted[0] if accepted else parts[0]
        return str(first.get("message-id") or "")
