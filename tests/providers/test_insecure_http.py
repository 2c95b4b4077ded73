"""Provider base URLs: plain http:// (credentials in clear) only to loopback, or with an explicit,
logged opt-in."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from gateway.clock import FakeClock
from gateway.errors import ConfigError
from gateway.metrics import Metrics
from gateway.providers.twilio import TwilioProvider, TwilioSettings
from gateway.settings import build_settings

TWILIO: dict[str, Any] = {
    "name": "twilio-main",
    "type": "twilio",
    "account_sid": "AC" + "0" * 32,
    "auth_token": "token-0123456789",
    "from": "+15005550006",
}


def settings_with(**provider: Any) -> Any:
    return build_settings({"providers": [{**TWILIO, **provider}]}, environ={})


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("base_url", "http://api.twilio.com"),
        ("base_url", "http://10.0.0.8:8080"),
        ("status_callback", "http://sms.example.com/providers/twilio/status"),
    ],
)
def test_plain_http_to_another_host_is_refused(key: str, url: str) -> None:
    """http:// to a host other than loopback is a configuration error naming the key."""
    with pytest.raises(ConfigError) as caught:
        settings_with(**{key: url})
    assert f"{key}: plain http://" in str(caught.value)
    assert "allow_insecure_http" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["https://api.twilio.com", "http://127.0.0.1:8080", "http://[::1]:9", "http://localhost"]
)
def test_https_and_loopback_are_accepted(url: str) -> None:
    """https:// anywhere, and plain http:// to loopback (local fakes, a sidecar) load."""
    assert settings_with(base_url=url).providers[0].base_url == url


async def test_opt_in_allows_plain_http_and_says_so() -> None:
    """allow_insecure_http: true loads a plain http:// URL, and the provider warns at start."""
    settings = settings_with(base_url="http://sms-proxy.internal", allow_insecure_http=True)
    provider_settings = settings.providers[0]
    assert isinstance(provider_settings, TwilioSettings)
    async with aiohttp.ClientSession() as session:
        with capture_logs() as logs:
            TwilioProvider(provider_settings, session, FakeClock(), Metrics())
    (warning,) = [e for e in logs if e["log_level"] == "warning"]
    assert "plain http" in warning["event"]
    assert warning["provider"] == "twilio-main"
