"""A provider with a JSON HTTP API that smsguard does not know by name (type: http).

The request body is `body_template` with {to}, {body}, {message_id}, {country} and {from} replaced
in every string value at any depth; success is an HTTP status in `success_status`; the provider's
message id is read from the JSON answer at the dotted path `message_id_field` (a success without
it still counts as sent, with message id "unknown"). Headers (secrets resolved) are built once.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import aiohttp

from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.models import OutboundSms
from gateway.providers.http import HttpAnswer, HttpCall, HttpProvider
from gateway.providers.retry import Random, Sleep
from gateway.settings import HttpProviderSettings

_PLACEHOLDER = re.compile(r"\{(to|body|message_id|country|from)\}")


def render(template: Any, values: dict[str, str]) -> Any:
    """The template with placeholders replaced in every string (keys and non-strings untouched)."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template


def dig(data: Any, dotted: str) -> Any:
    """The value at a dotted path ("data.id", "messages.0.id") or None when absent."""
    node = data
    for part in dotted.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class GenericHttpProvider(HttpProvider):
    settings: HttpProviderSettings

    def __init__(
        self,
        settings: HttpProviderSettings,
        session: aiohttp.ClientSession,
        clock: Clock,
        metrics: Metrics,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: Random = random.random,
    ) -> None:
        super().__init__(settings, session, clock, metrics, sleep=sleep, rng=rng)
        # Secrets resolved once; every request shares this read-only mapping.
        headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        headers.setdefault("Accept", "application/json")
        self._headers: Mapping[str, str] = MappingProxyType(headers)

    def build(self, sms: OutboundSms) -> HttpCall:
        s = self.settings
        values = {
            "to": sms.to,
            "body": sms.body,
            "message_id": sms.message_id,
            "country": sms.country or "",
            "from": s.from_ or "",
        }
        return HttpCall(
            s.method,
            s.base_url + s.path,
            json=render(s.body_template, values),
            headers=self._headers,
        )

    def accept(self, answer: HttpAnswer) -> str:
        s = self.settings
        if answer.status not in s.success_status:
            data = answer.json()
            detail = ""
            if isinstance(data, dict):
                detail = str(data.get("message") or data.get("error") or "")
            raise self.http_failure(answer, detail)
        if not s.message_id_field:
            return ""
        value = dig(answer.json(), s.message_id_field)
        if value is None or isinstance(value, (dict, list)):
            # A success status: the message is probably on its way, so it counts as sent.
            return self.unreadable(answer, f"HTTP {answer.status} without {s.message_id_field}")
        return str(value)
