"""`smsguard signals`: the signals a message would get, for trying GeoIP and templates."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from gateway.errors import ConfigError
from gateway.geoip import GeoIp
from gateway.models import SmsRequest
from gateway.signals.extract import SignalExtractor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`smsguard signals NUMBER [--ip IP] [--ua UA] ...`: the signals a message would get."""
    p = sub.add_parser(
        "signals",
        help="show the signals a message would get (phone, GeoIP, user agent, body)",
        description="Compute signals with the configured GeoIP databases and templates.",
    )
    p.add_argument("number", help="recipient, e.g. +447400123456")
    p.add_argument("--ip", help="the end user's IP address")
    p.add_argument("--ua", dest="user_agent", help="the end user's user agent")
    p.add_argument("--language", help="request language, e.g. 'en-GB,en;q=0.8'")
    p.add_argument("--body", default="", help="the SMS text")
    p.add_argument("--config", help="settings YAML (default: $SMSGUARD_CONFIG, else defaults)")
    p.set_defaults(func=_cmd_signals)


def _cmd_signals(args: argparse.Namespace) -> int:
    from gateway.cli import load_or_exit

    settings = load_or_exit(args.config)
    try:
        geoip = GeoIp.open(settings.geoip, settings.source)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    try:
        extractor = SignalExtractor(geoip, settings.signals.expected_templates)
        sms = SmsRequest(
            request_id="cli",
            received_at=0.0,
            shape="sms_gateway",
            recipient=args.number,
            body=args.body,
            ip=args.ip,
            user_agent=args.user_agent,
            language=args.language,
        )
        shown = dataclasses.asdict(extractor.compute(sms))
        shown.pop("state")  # filled only by later stages, which this command does not run
        print(json.dumps(shown, indent=2))
    finally:
        geoip.close()
    return 0
