"""Provider settings and routes: every mistake reported with its file:line:col."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.settings import build_settings
from gateway.yamlsrc import load_yaml

PROVIDERS = """\
providers:
  - name: twilio
    type: twilio
    account_sid: AC0123456789abcdef0123456789abcdef
    auth_token: t
    from: "+15005550006"
  - name: sandbox
    type: sandbox
"""


def problems(text: str) -> list[str]:
    data, locator = load_yaml(text, "gateway.yml")
    with pytest.raises(ConfigError) as caught:
        build_settings(data, locator, environ={})
    return [str(p) for p in caught.value.problems]


def test_route_naming_an_unknown_provider_points_at_the_name() -> None:
    """An unknown provider in a route is reported at its own line and column."""
    text = PROVIDERS + "routes:\n  GB: [twilio, vonage]\n"
    assert problems(text) == [
        "gateway.yml:10:16: routes.GB.1: unknown provider 'vonage' (known: sandbox, twilio)"
    ]


def test_route_key_must_be_an_iso_code_or_default() -> None:
    """A lower-case or made-up route key is refused."""
    text = PROVIDERS + "routes:\n  uk: [twilio]\n"
    assert problems(text) == [
        "gateway.yml:10:3: routes.uk: 'uk' is not an upper-case ISO 3166 alpha-2 country code"
        " or 'default'"
    ]


def test_empty_route_and_repeated_provider_are_refused() -> None:
    """A route lists at least one provider, each once."""
    text = PROVIDERS + "routes:\n  default: []\n  US: [twilio, twilio]\n"
    assert problems(text) == [
        "gateway.yml:10:3: routes.default: a route lists at least one provider",
        "gateway.yml:11:16: routes.US.1: provider 'twilio' is listed twice",
    ]


def test_valid_routes_are_accepted() -> None:
    """Known providers under ISO codes and default load without problems."""
    data, locator = load_yaml(
        PROVIDERS + "routes:\n  GB: [sandbox, twilio]\n  default: [twilio]\n", "gateway.yml"
    )
    settings = build_settings(data, locator, environ={})
    assert settings.routes == {"GB": ["sandbox", "twilio"], "default": ["twilio"]}


def test_http_provider_template_placeholders_are_checked() -> None:
    """An unknown {placeholder} in body_template is a configuration error, not a runtime one."""
    text = """\
providers:
  - name: acme
    type: http
    base_url: https://sms.acme.example
    body_template: {to: "{to}", text: "{text}"}
"""
    (problem,) = problems(text)
    assert problem.startswith("gateway.yml:2:5: providers.0: body_template: unknown placeholder")
    assert "{text}" in problem


def test_twilio_account_sid_must_look_like_one() -> None:
    """A Twilio account SID that does not start with AC is refused."""
    text = PROVIDERS.replace("AC0123456789abcdef0123456789abcdef", "SK0123")
    (problem,) = problems(text)
    assert problem.startswith("gateway.yml:4:5: providers.0.account_sid:")
