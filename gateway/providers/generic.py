"""A provider with a JSON HTTP API that smsguard does not know by name (type: http).

The request body is `body_template` with {to}, {body}, {message_id}, {country} and {from} replaced
in every string value at any depth; success is an HTTP status in `success_status`; the provider's
message id is read from the JSON answer at the dotted path `message_id_field` (a success without
it still counts as sent, with message id "unknown"). Headers (secrets resolved) are built once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import Field, model_validator

from gateway.jsontypes import JSON, JSONObject
from gateway.models import OutboundSms
from gateway.providers.base import Deps, Provider
from gateway.providers.http import HttpAnswer, HttpCall, HttpProvider
from gateway.settings.base import Secret
from gateway.settings.providers import ProviderBase

_PLACEHOLDER = re.compile(r"\{(to|body|message_id|country|from)\}")


def render(template: JSON, values: dict[str, str]) -> JSON:
    """The template with placeholders replaced in every string (keys and non-strings untouched)."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template


def dig(data: object, dotted: str) -> object:
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


_TEMPLATE_FIELDS = frozenset({"to", "body", "message_id", "country", "from"})


class HttpProviderSettings(ProviderBase):
    type: Literal["http"]
    # The send endpoint is `base_url` + `path` (base_url is required for this type).
    path: str = "/"
    method: Literal["POST", "PUT"] = "POST"
    # Extra request headers (e.g. Authorization); values are secrets ({env: NAME} works).
    headers: dict[str, Secret] = {}
    # JSON body; string values (at any depth) may use {to}, {body}, {message_id}, {country}, {from}.
    body_template: JSONObject = {"to": "{to}", "text": "{body}"}
    # Value of {from}.
    from_: str | None = Field(default=None, alias="from")
    # HTTP statuses that mean "accepted"; 429 and 5xx are retried, anything else is a refusal.
    success_status: list[int] = [200, 201, 202]
    # Dotted path to the provider's message id in its JSON answer ("data.id", "messages.0.id").
    message_id_field: str | None = None

    @model_validator(mode="after")
    def _endpoint(self) -> HttpProviderSettings:
        if not self.base_url:
            raise ValueError("base_url is required for type: http")
        if not self.path.startswith("/"):
            raise ValueError("path must start with '/'")
        unknown = sorted(_template_fields(self.body_template) - _TEMPLATE_FIELDS)
        if unknown:
            found = ", ".join("{" + u + "}" for u in unknown)
            allowed = ", ".join("{" + f + "}" for f in sorted(_TEMPLATE_FIELDS))
            raise ValueError(f"body_template: unknown placeholder(s) {found}; use {allowed}")
        return self

    def build_provider(self, deps: Deps) -> Provider:
        return GenericHttpProvider(self, deps.session, deps.clock, deps.metrics)


def _template_fields(node: object) -> set[str]:
    """Every {name} used in the string values of a JSON template, at any depth."""
    if isinstance(node, str):
        return set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", node))
    if isinstance(node, dict):
        return set().union(*(_template_fields(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_template_fields(v) for v in node))
    return set()


class GenericHttpProvider(HttpProvider):
    settings: HttpProviderSettings

    @functools.cached_property
    def _headers(self) -> Mapping[str, str]:
        # Secrets resolved once; every request shares this read-only mapping.
        headers = {k: v.get_secret_value() for k, v in self.settings.headers.items()}
        headers.setdefault("Accept", "application/json")
        return MappingProxyType(headers)

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
