"""The signals and geoip settings sections."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.settings import build_settings
from gateway.yamlsrc import load_yaml


def test_template_without_the_code_macro_is_refused_with_its_location() -> None:
    """An expected template with nowhere for the code is a settings error at file:line:col."""
    data, locator = load_yaml(
        "signals:\n  expected_templates:\n    - 'Your code is @@password@@'\n    - 'Hello'\n",
        "smsguard.yaml",
    )
    with pytest.raises(ConfigError) as info:
        build_settings(data, locator, environ={})
    assert str(info.value) == (
        "smsguard.yaml:2:3: signals.expected_templates: "
        "template 1 has no @@password@@ (or {{ code }}) where the code goes"
    )


def test_defaults_expect_auth0s_default_template_and_no_databases() -> None:
    """By default the expected text is Auth0's default template and no GeoIP file is set."""
    settings = build_settings({}, environ={})
    assert settings.signals.expected_templates == ["Your verification code is: @@password@@"]
    assert (settings.geoip.country_db, settings.geoip.asn_db, settings.geoip.anonymous_db) == (
        None,
        None,
        None,
    )
