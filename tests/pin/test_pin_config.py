"""PIN settings: what is required when the step is on, and the shared page helpers."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.errors import ConfigError
from gateway.settings import build_settings
from gateway.web import security_headers, setup_static, setup_templates
from tests.pin.fake_auth0 import SHARED_SECRET, ec_pem


def settings(**pin: Any) -> Any:
    return build_settings({"pin": {"enabled": True, **pin}}, environ={})


def test_enabled_without_a_flow_is_a_config_error() -> None:
    """pin.enabled alone names what is missing (redirect_secret or api_audience)."""
    with pytest.raises(ConfigError, match="redirect_secret"):
        settings()


def test_api_without_signing_keys_is_a_config_error() -> None:
    """The JSON API needs a step-up signing key."""
    with pytest.raises(ConfigError, match="signing_keys"):
        settings(api_audience="https://api.example.com")


def test_missing_tenant_is_a_config_error() -> None:
    """Without pin.tenant_domain or auth0.tenant_domain the app refuses to build."""
    with pytest.raises(ConfigError, match="tenant_domain"):
        create_app(settings(redirect_secret=SHARED_SECRET))


def test_bad_signing_key_names_the_key() -> None:
    """A signing key that is not a PEM private key is reported with its index."""
    bad = settings(
        tenant_domain="t.example",
        api_audience="a",
        redirect_secret=SHARED_SECRET,
        signing_keys=[{"kid": "one", "private_key": ec_pem()}, {"kid": "two", "private_key": "x"}],
    )
    with pytest.raises(ConfigError, match=r"pin\.signing_keys\.1\.private_key"):
        create_app(bad)


def test_tenant_defaults_from_the_auth0_section() -> None:
    """auth0.tenant_domain is enough for the PIN step to build."""
    data = {
        "auth0": {"tenant_domain": "t.example"},
        "pin": {"enabled": True, "redirect_secret": SHARED_SECRET},
    }
    app = create_app(build_settings(data, environ={}))
    assert any(r.resource and r.resource.canonical == "/pin" for r in app.router.routes())


def test_secret_can_come_from_a_file(tmp_path: Any) -> None:
    """redirect_secret accepts {file: PATH}, like every secret."""
    path = tmp_path / "pin-secret"
    path.write_text(SHARED_SECRET + "\n")
    loaded = settings(redirect_secret={"file": str(path)})
    assert loaded.pin.redirect_secret.get_secret_value() == SHARED_SECRET


def test_template_setup_is_idempotent() -> None:
    """setup_templates/setup_static can be called by every feature; the first one wins."""
    app = web.Application()
    first = setup_templates(app)
    assert setup_templates(app) is first
    setup_static(app)
    setup_static(app)
    assert "static" in app.router.named_resources()


def test_security_headers_are_strict() -> None:
    """security_headers sets CSP, DENY framing, no-referrer, no-store and nosniff."""
    response = security_headers(web.Response(text="x"))
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("secret", ["x", "a" * 31])
def test_short_redirect_secret_is_refused(secret: str) -> None:
    """redirect_secret needs at least 32 bytes (a short one is guessable offline)."""
    with pytest.raises(ConfigError, match=r"redirect_secret.*at least 32 bytes"):
        settings(tenant_domain="t.example", redirect_secret=secret)


def test_step_up_audience_must_differ_from_the_api_audience() -> None:
    """Step-up tokens may not share the Auth0 API's audience."""
    with pytest.raises(ConfigError, match="step_up_audience"):
        settings(
            api_audience="https://api.example.com",
            step_up_audience="https://api.example.com",
            signing_keys=[{"kid": "one", "private_key": ec_pem()}],
        )


@pytest.mark.parametrize(
    ("memory_kib", "time_cost", "warned"),
    [(19_456, 1, True), (8_192, 2, True), (19_456, 2, False), (47_104, 1, False)],
)
def test_weak_argon2_parameters_are_accepted_with_a_warning(
    memory_kib: int, time_cost: int, warned: bool
) -> None:
    """Argon2 below OWASP's floor starts, with one warning line; at the floor no warning."""
    loaded = settings(
        tenant_domain="t.example",
        redirect_secret=SHARED_SECRET,
        argon2_memory_kib=memory_kib,
        argon2_time_cost=time_cost,
    )
    with capture_logs() as logs:
        create_app(loaded)
    events = [e["event"] for e in logs]
    assert ("pin argon2 parameters below the OWASP floor" in events) is warned
