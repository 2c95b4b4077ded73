"""`smsguard dashboard ...`: password hashes and overrides from a shell."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from gateway.cli import main
from gateway.dashboard.auth import dev_user
from gateway.redisproc import RedisProcess
from gateway.settings import build_settings


@pytest.fixture
def shell(redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """`smsguard` as an operator runs it: Redis from REDIS_URL, no settings file."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.delenv("SMSGUARD_CONFIG", raising=False)


def hash_password(monkeypatch: pytest.MonkeyPatch, password: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{password}\n"))
    return main(["dashboard", "hash-password"])


def test_hash_password_prints_an_argon2id_hash_of_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """hash-password reads one line and prints an Argon2id hash that verifies it."""
    assert hash_password(monkeypatch, "a long enough password") == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$argon2id$")
    assert PasswordHasher().verify(printed, "a long enough password")


def test_hash_password_refuses_a_short_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Passwords under 12 characters are refused with exit 1."""
    assert hash_password(monkeypatch, "short") == 1
    assert "12" in capsys.readouterr().err


def test_dev_user_is_a_valid_dashboard_user() -> None:
    """dev_user(password) builds a settings entry that validates and verifies the password."""
    user = dev_user("generated-password-1")
    settings = build_settings({"dashboard": {"users": [user]}}, environ={})
    (configured,) = settings.dashboard.users
    assert configured.username == "admin"
    assert PasswordHasher().verify(
        configured.password_hash.get_secret_value(), "generated-password-1"
    )


def test_settings_refuse_a_password_that_is_not_an_argon2id_hash() -> None:
    """A plain password in dashboard.users is a settings error naming the key."""
    from gateway.errors import ConfigError

    with pytest.raises(ConfigError, match=r"dashboard\.users\.0\.password_hash"):
        build_settings(
            {"dashboard": {"users": [{"username": "a", "password_hash": "x"}]}}, environ={}
        )


@pytest.mark.usefixtures("shell")
def test_overrides_can_be_added_listed_and_removed_from_the_shell(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """overrides add / list / remove work against the configured Redis."""
    args = [
        "dashboard",
        "overrides",
        "add",
        "cidr",
        "198.51.100.0/24",
        "--reason",
        "bots",
        "--expires",
        "2h",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    override_id = next(ln for ln in out.splitlines() if ln.endswith("every instance")).split()[0]
    assert main(["dashboard", "overrides", "list"]) == 0
    listing = capsys.readouterr().out
    assert "198.51.100.0/24" in listing
    assert override_id in listing
    assert main(["dashboard", "overrides", "remove", override_id]) == 0
    assert "removed cidr 198.51.100.0/24" in capsys.readouterr().out
    assert main(["dashboard", "overrides", "list"]) == 0
    assert "198.51.100.0/24" not in capsys.readouterr().out


@pytest.mark.usefixtures("shell")
def test_broad_override_from_the_shell_needs_confirm_broad(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """overrides add refuses a /4 without --confirm-broad and accepts it with the flag."""
    args = ["dashboard", "overrides", "add", "cidr", "64.0.0.0/4", "--reason", "bots"]
    assert main(args) == 1
    assert "broader than /8" in capsys.readouterr().err
    assert main([*args, "--confirm-broad"]) == 0


@pytest.mark.usefixtures("shell")
def test_long_prefix_is_masked_in_the_shell_output(capsys: pytest.CaptureFixture[str]) -> None:
    """A full-number prefix is printed masked by overrides add and list."""
    args = ["dashboard", "overrides", "add", "prefix", "447700900123", "--reason", "one number"]
    assert main(args) == 0
    assert main(["dashboard", "overrides", "list"]) == 0
    out = capsys.readouterr().out
    assert "447700900123" not in out
    assert "+44*******123" in out
