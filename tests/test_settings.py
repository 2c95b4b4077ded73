"""Settings: one YAML file, environment overrides, secrets from env or files, errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.settings import Settings, load_settings, redacted

ISSUE_EXAMPLE = """\
server:   {host: 127.0.0.1, port: 8080}
redis:    {url: "redis://127.0.0.1:6379/0"}
auth0:    {gateway_secret: "s3cret", audience: "urn:MySmsGateway", subject: "urn:Auth0",
           secret_base64_encoded: false}
rules:    {path: rules/}
geoip:    {country_db: null, asn_db: null, anonymous_db: null}
providers:
  - {name: twilio-main, type: twilio, account_sid: "AC...", auth_token: "...",
     from: "+15005550006", base_url: "https://api.twilio.com"}
  - {name: vonage-backup, type: vonage, api_key: "...", api_secret: "...", from: "Acme",
     base_url: "https://rest.nexmo.com"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smsguard.yaml"
    path.write_text(text)
    return path


def test_documented_example_loads(tmp_path: Path) -> None:
    """The settings example from the product's issue loads as written."""
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE), environ={})
    assert [p.name for p in settings.providers] == ["twilio-main", "vonage-backup"]
    assert settings.auth0.gateway_secret is not None
    assert settings.auth0.gateway_secret.get_secret_value() == "s3cret"


def test_defaults_without_file() -> None:
    """With no file the gateway has working defaults: the sandbox provider, local Redis."""
    settings = load_settings(None, environ={})
    assert settings.providers[0].type == "sandbox"
    assert settings.server.port == 8080


def test_env_overrides_any_key(tmp_path: Path) -> None:
    """SMSGUARD_SECTION__KEY overrides the file; list items by index; REDIS_URL is honoured."""
    env = {
        "SMSGUARD_SERVER__PORT": "9001",
        "SMSGUARD_PROVIDERS__0__AUTH_TOKEN": "from-env",
        "REDIS_URL": "redis://10.0.0.5:6379/2",
    }
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE), environ=env)
    assert settings.server.port == 9001
    assert settings.providers[0].auth_token.get_secret_value() == "from-env"  # type: ignore[union-attr]
    assert settings.redis.url == "redis://10.0.0.5:6379/2"


def test_secret_from_env_and_file(tmp_path: Path) -> None:
    """A secret can be `{env: NAME}` or `{file: PATH}` instead of the value itself."""
    secret_file = tmp_path / "token"
    secret_file.write_text("file-secret\n")
    text = (
        f"auth0: {{gateway_secret: {{file: {secret_file}}}}}\n"
        "providers:\n  - {name: v, type: vonage, api_key: k, api_secret: {env: VONAGE_SECRET},"
        " from: Acme}\n"
    )
    settings = load_settings(write(tmp_path, text), environ={"VONAGE_SECRET": "env-secret"})
    assert settings.auth0.gateway_secret is not None
    assert settings.auth0.gateway_secret.get_secret_value() == "file-secret"
    assert settings.providers[0].api_secret.get_secret_value() == "env-secret"  # type: ignore[union-attr]


def test_secrets_never_printed(tmp_path: Path) -> None:
    """The redacted view (`config check --show`) shows no secret values nor URL passwords."""
    env = {"REDIS_URL": "redis://:hunter2@10.0.0.5:6379/0"}
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE), environ=env)
    shown = str(redacted(settings))
    assert "s3cret" not in shown
    assert "hunter2" not in shown
    assert "redis://:**********@10.0.0.5:6379/0" in shown
    assert "s3cret" not in repr(settings)


def test_errors_name_file_line_and_key(tmp_path: Path) -> None:
    """Unknown keys and bad values are reported together, each with file:line:col and key."""
    path = write(
        tmp_path, "server:\n  port: http\n  colour: blue\nauth0: {gateway_secret: {vault: x}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    text = str(err.value)
    assert f"{path}:2:3: server.port:" in text
    assert f"{path}:3:3: server.colour: unknown key" in text
    assert f"{path}:4:" in text
    assert "{env: NAME} or {file: PATH}" in text


def test_env_error_names_the_variable(tmp_path: Path) -> None:
    """A bad value from the environment is reported against the variable, not the file."""
    with pytest.raises(ConfigError, match=r"\$SMSGUARD_SERVER__PORT: server.port"):
        load_settings(None, environ={"SMSGUARD_SERVER__PORT": "eighty"})


def test_missing_secret_env_is_an_error(tmp_path: Path) -> None:
    """A secret that points at an unset environment variable is a clear error."""
    path = write(tmp_path, "auth0: {gateway_secret: {env: NOPE_NOT_SET_123}}\n")
    with pytest.raises(ConfigError, match="NOPE_NOT_SET_123 is not set"):
        load_settings(path, environ={})


def test_duplicate_keys_refused(tmp_path: Path) -> None:
    """A key written twice is an error at the second occurrence."""
    path = write(tmp_path, "server: {port: 1}\nserver: {port: 2}\n")
    with pytest.raises(ConfigError, match=rf"{path}:2:1: duplicate key 'server'"):
        load_settings(path, environ={})


def test_settings_are_immutable() -> None:
    """Settings are frozen once validated: no stage can change them under another."""
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "secret",
    ["abcdefgh #ijkl", "'quoted'", "[not-yaml", "*star", " spaced ", "123456", "!!binary x"],
)
def test_env_secret_taken_byte_for_byte(tmp_path: Path, secret: str) -> None:
    """A secret from the environment is never parsed: comments, quotes, brackets, digits stay."""
    settings = load_settings(None, environ={"SMSGUARD_AUTH0__GATEWAY_SECRET": secret})
    assert settings.auth0.gateway_secret is not None
    assert settings.auth0.gateway_secret.get_secret_value() == secret


def test_env_map_keys_keep_country_case(tmp_path: Path) -> None:
    """Country keys in routes and prices stay upper case; JSON gives lists."""
    env = {
        "SMSGUARD_ROUTES__GB": '["vonage-backup", "twilio-main"]',
        "SMSGUARD_ROUTES__DEFAULT": '["twilio-main"]',
        "SMSGUARD_PRICES__PER_COUNTRY__GB": "0.04",
    }
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE), environ=env)
    assert settings.routes == {"GB": ["vonage-backup", "twilio-main"], "default": ["twilio-main"]}
    assert settings.prices.per_country == {"GB": 0.04}


def test_env_unknown_key_names_the_variable() -> None:
    """A misspelt variable is an error naming it and the keys that exist."""
    with pytest.raises(ConfigError, match=r"\$SMSGUARD_SERVER__PROT: unknown key 'prot'"):
        load_settings(None, environ={"SMSGUARD_SERVER__PROT": "1"})


def test_env_missing_list_item_is_an_error(tmp_path: Path) -> None:
    """Overriding a provider the file does not have is an error, not silently ignored."""
    with pytest.raises(ConfigError, match=r"\$SMSGUARD_PROVIDERS__5__AUTH_TOKEN: .*no item 5"):
        load_settings(
            write(tmp_path, ISSUE_EXAMPLE), environ={"SMSGUARD_PROVIDERS__5__AUTH_TOKEN": "x"}
        )


def test_env_bad_json_is_an_error() -> None:
    """A list value that is not valid JSON says so, naming the variable."""
    with pytest.raises(
        ConfigError, match=r"\$SMSGUARD_SIGNALS__EXPECTED_TEMPLATES: not valid JSON"
    ):
        load_settings(None, environ={"SMSGUARD_SIGNALS__EXPECTED_TEMPLATES": "[oops"})
