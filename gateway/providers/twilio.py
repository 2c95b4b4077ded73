"""Twilio Programmable Messaging: POST /2010-04-01/Accounts/{AccountSid}/Messages.json.

Form-encoded To, From or MessagingServiceSid, Body, StatusCallback; HTTP basic auth
AccountSid:AuthToken; 201 with the Message resource (`sid`) on success (a 2xx without a `sid` is
still treated as sent, with message id "unknown"). Errors come as
`{"code": 21211, "message": "...", "more_info": "https://www.twilio.com/docs/errors/21211",
"status": 400}`; 4xx other than 429 are refusals (not retried).
"""

from __future__ import annotations

import asyncio
import random
from typing import Literal
from urllib.parse import urlencode

import aiohttp
from pydantic import Field, model_validator

from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.base import Deps, Provider
from gateway.providers.http import HttpAnswer, HttpCall, HttpProvider, basic_auth, safe_text
from gateway.providers.retry import Random, Sleep
from gateway.settings.base import Secret
from gateway.settings.providers import ProviderBase

STATUS_PATH = "/providers/twilio/status"


def status_callback_base(settings: TwilioSettings, public_url: str | None) -> str | None:
    """Where Twilio should post delivery status (without our ?mid=), or None for no callback."""
    if settings.status_callback:
        return settings.status_callback
    if public_url:
        return public_url.rstrip("/") + STATUS_PATH
    return None


def with_message_id(url: str, message_id: str) -> str:
    """The callback URL carrying our message id, so a status can be filed against it."""
    return url + ("&" if "?" in url else "?") + urlencode({"mid": message_id})


class TwilioSettings(ProviderBase):
    type: Literal["twilio"]
    base_url: str = "https://api.twilio.com"
    # Real SIDs are AC + 32 hex digits; only the prefix is checked so test accounts still load.
    account_sid: str = Field(pattern=r"^AC")
    auth_token: Secret
    # Sender: a Twilio number / alphanumeric id, or a Messaging Service (at least one of them).
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    # Where Twilio posts delivery status; default: <server.public_url>/providers/twilio/status.
    # Omitted (no delivery status) when neither is set.
    status_callback: str | None = Field(default=None, pattern=r"^https?://")

    @model_validator(mode="after")
    def _sender(self) -> TwilioSettings:
        if not (self.from_ or self.messaging_service_sid):
            raise ValueError("set `from` or `messaging_service_sid`")
        return self

    def build_provider(self, deps: Deps) -> Provider:
        return TwilioProvider(
            self, deps.session, deps.clock, deps.metrics, public_url=deps.public_url
        )


class TwilioProvider(HttpProvider):
    settings: TwilioSettings

    def __init__(
        self,
        settings: TwilioSettings,
        session: aiohttp.ClientSession,
        clock: Clock,
        metrics: Metrics,
        *,
        public_url: str | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Random = random.random,
    ) -> None:
        super().__init__(settings, session, clock, metrics, sleep=sleep, rng=rng)
        self._callback = status_callback_base(settings, public_url)
        self._auth = basic_auth(settings.account_sid, settings.auth_token.get_secret_value())

    def build(self, sms: OutboundSms) -> HttpCall:
        s = self.settings
        form = {"To": sms.to, "Body": sms.body}
        if s.messaging_service_sid:
            form["MessagingServiceSid"] = s.messaging_service_sid
        if s.from_:
            form["From"] = s.from_
        if self._callback:
            form["StatusCallback"] = with_message_id(self._callback, sms.message_id)
        return HttpCall(
            "POST",
            f"{s.base_url}/2010-04-01/Accounts/{s.account_sid}/Messages.json",
            form=form,
            headers={"Accept": "application/json", "Authorization": self._auth},
        )

    def accept(self, answer: HttpAnswer) -> str:
        data = answer.json()
        if 200 <= answer.status < 300:
            sid = data.get("sid") if isinstance(data, dict) else None
            if isinstance(sid, str) and sid:
                return sid
            # Accepted but unreadable: the message is probably on its way, so it counts as sent.
            return self.unreadable(answer, f"HTTP {answer.status} without a message sid")
        detail = ""
        if isinstance(data, dict) and "message" in data:
            detail = f"{data.get('code', '?')} {safe_text(data['message'])}"
        raise self.http_failure(answer, detail)
