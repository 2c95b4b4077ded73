"""`smsguard simulate` on the command line: refusals before any traffic, and a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from yarl import URL

from gateway.cli import build_parser, main
from gateway.simulate import resolve_credentials, simulate
from gateway.simulate.runner import RemoteRefused, check_loopback
from tests.auth0 import SECRET
from tests.simulate.conftest import StartGateway


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://127.9.9.9"],
)
def test_loopback_urls_accepted(url: str) -> None:
    """Loopback targets pass the check."""
    check_loopback(URL(url))


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.5:8080", "https://gateway.example.com", "http://192.0.2.1", "ftp://[::1]"],
)
def test_other_urls_refused(url: str) -> None:
    """Private, public and non-HTTP targets are refused."""
    with pytest.raises(RemoteRefused):
        check_loopback(URL(url))


def test_cli_refuses_remote_target(capsys: pytest.CaptureFixture[str]) -> None:
    """The command exits 2 on a non-loopback URL, naming --allow-remote, before sending."""
    code = main(["simulate", "--url", "http://192.0.2.1:8080", "--secret", SECRET])
    assert code == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_secret_from_dev_secrets_file(tmp_path: Path) -> None:
    """Without --secret or --config, the `smsguard dev` secrets file is used."""
    (tmp_path / "dev-secrets.json").write_text(json.dumps({"gateway_secret": "s3cret"}))
    args = build_parser().parse_args(["simulate", "--data-dir", str(tmp_path)])
    assert resolve_credentials(args, {}).key == b"s3cret"


def test_secret_from_settings_file(tmp_path: Path) -> None:
    """--config reads auth0.gateway_secret and the audience from a settings file."""
    path = tmp_path / "smsguard.yaml"
    path.write_text(f"auth0:\n  gateway_secret: {SECRET}\n  audience: urn:Other\n")
    args = build_parser().parse_args(["simulate", "--config", str(path)])
    creds = resolve_credentials(args, {})
    assert (creds.key, creds.audience) == (SECRET.encode(), "urn:Other")


def test_no_secret_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With no secret anywhere, the command exits 2 and says where a secret can come from."""
    code = main(["simulate", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "--secret" in capsys.readouterr().err


async def test_whole_command_against_gateway(start_gateway: StartGateway) -> None:
    """The command's run produces a JSON report whose totals match the planned traffic."""
    url = await start_gateway()
    args = build_parser().parse_args(
        ["simulate", "--url", str(url), "--secret", SECRET, "--legit", "10",
         "--attack-scale", "0.1", "--span", "1", "--speed", "1000", "--json"]
    )  # fmt: skip
    report = (await simulate(args, {})).as_json()
    assert report["verified"] is True
    assert report["errors"] == {}
    assert report["rules"].startswith("version ")
    assert report["legit_users"] == 10
    assert (
        report["scenarios"]["premium-rate"]["blocked"]
        == report["scenarios"]["premium-rate"]["requests"]
    )
    assert 0 < report["attack_blocked_pct"] <= 100


def test_unreachable_gateway_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A gateway that does not answer is reported with exit 2 before any traffic is sent."""
    code = main(["simulate", "--url", "http://127.0.0.1:9", "--secret", SECRET])
    assert code == 2
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_bad_country_mix_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --countries value is explained with exit 2."""
    code = main(["simulate", "--secret", SECRET, "--countries", "GB:many"])
    assert code == 2
    assert "--countries" in capsys.readouterr().err
