"""`smsguard signals`: the signals a message would get, from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gateway import signals
from tests.geoip_fixtures import write_country_db


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="smsguard")
    signals.register(parser.add_subparsers())
    args = parser.parse_args(["signals", *argv])
    result: int = args.func(args)
    return result


def test_prints_signals_as_json_with_configured_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a settings file naming a country database, the IP's country is shown."""
    db = write_country_db(tmp_path / "country.mmdb", {"203.0.113.0/24": "GB"})
    config = tmp_path / "smsguard.yaml"
    config.write_text(f"geoip: {{country_db: '{db}'}}\n")
    code = run(
        ["+44 7400 123456", "--ip", "203.0.113.5", "--ua", "curl/8.5.0", "--config", str(config)]
    )
    shown = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (shown["e164"], shown["number_type"], shown["ip_country"]) == (
        "+447400123456",
        "MOBILE",
        "GB",
    )
    assert (shown["ua_family"], shown["ua_automation"]) == ("curl", True)


def test_missing_database_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configured database that does not exist is reported with its key, exit status 2."""
    config = tmp_path / "smsguard.yaml"
    config.write_text(f"geoip: {{asn_db: '{tmp_path / 'absent.mmdb'}'}}\n")
    assert run(["+447400123456", "--config", str(config)]) == 2
    assert "geoip.asn_db:" in capsys.readouterr().err
