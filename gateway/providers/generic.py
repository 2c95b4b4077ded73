"""A provider with a JSON HTTP API that smsguard does not know by name (type: http).

The request body is `body_template` with {to}, {body}, {message_id}, {country} and {from} replaced
in every string value at any depth; success is an HTTP status in `success_status`; the provider's
message id is read from the JSON answer at the dotted path `message_id_field`.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.models import OutboundSms
from gateway.providers.http import HttpAnswer, HttpCall, HttpProvider
from gateway.providers.retry import BAD_RESPONSE, SendFailed
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

    def build(self, sms: OutboundSms) -> HttpCall:
        s = self.settings
        values = {
            "to": sms.to,
            "body": sms.body,
            "message_id": sms.message_id,
            "country": sms.country or "",
            "from": s.from_ or "",
        }
        headers = {k: v.get_secret_value() for k, v in s.headers.items()}
        headers.setdefault("Accept", "application/json")
        return HttpCall(
            s.method, s.base_url + s.path, json=render(s.body_template, values), headers=headers
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
            raise SendFailed(
                self.name,
                f"HTTP {answer.status} without {s.message_id_field}",
                kind=BAD_RESPONSE,
                retryable=False,
                status=answer.status,
            )
        return str(value)
