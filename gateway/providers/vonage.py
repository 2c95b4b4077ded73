"""Vonage (Nexmo) SMS API: POST /sms/json, form-encoded api_key, api_secret, from, to, text.

Vonage answers HTTP 200 even when it refuses: each `messages[].status` is "0" on success and an
error code otherwise (x-errors in Vonage's API specification). Of those, 1 (throttled),
5 (internal error) and 10 (too many existing binds) are worth retrying; the rest are refusals.
"""

from __future__ import annotations

from gateway.models import OutboundSms
from gateway.providers.http import HttpAnswer, HttpCall, HttpProvider, safe_text
from gateway.providers.retry import AUTH, BAD_RESPONSE, REJECTED, THROTTLED, SendFailed
from gateway.settings import VonageSettings

# Status codes (as strings, as Vonage sends them) that say "try again later".
RETRYABLE_STATUS = {"1": THROTTLED, "5": "server_error", "10": THROTTLED}
# Status codes that are about our account or credentials, not the message.
ACCOUNT_STATUS = {"4", "8", "9", "11", "14", "32"}
# `client-ref` holds our message id; Vonage accepts up to 40 characters.
_CLIENT_REF_MAX = 40


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
            raise SendFailed(
                self.name,
                "HTTP 200 without messages[]",
                kind=BAD_RESPONSE,
                retryable=False,
                status=200,
            )
        # A long text is split into parts, each with its own status; all must be "0".
        for part in messages:
            status = str(part.get("status", "")) if isinstance(part, dict) else ""
            if status != "0":
                text = safe_text(part.get("error-text", "")) if isinstance(part, dict) else ""
                message = f"status {status or '?'}: {text}".rstrip(": ")
                if status in RETRYABLE_STATUS:
                    raise SendFailed(
                        self.name, message, kind=RETRYABLE_STATUS[status], retryable=True
                    )
                kind = AUTH if status in ACCOUNT_STATUS else REJECTED
                raise SendFailed(self.name, message, kind=kind, retryable=False)
        message_id = messages[0].get("message-id") if isinstance(messages[0], dict) else None
        return str(message_id or "")
