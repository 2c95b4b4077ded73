"""Helpers for policy and velocity tests: rule folders on disk, signals and requests."""

from __future__ import annotations

import dataclasses
import itertools
import textwrap
from pathlib import Path
from typing import Any

from gateway.clock import Clock, FakeClock
from gateway.models import SmsRequest
from gateway.policy.engine import RuleEngine
from gateway.policy.loader import load_rules
from gateway.signals import Signals
from gateway.velocity import LocalVelocity, VelocityStore

_ids = itertools.count()

BASE = Signals(
    e164="+447400123456",
    phone_valid=True,
    phone_country="GB",
    calling_code=44,
    number_type="MOBILE",
    ip="203.0.113.7",
    ip_version=4,
    ip_net="203.0.113.0/24",
    ip_country="GB",
    asn=2856,
    as_org="British Telecommunications PLC",
    ip_anonymous=False,
    ip_hosting=False,
    ip_tor=False,
    ip_proxy=False,
    user_agent="Mozilla/5.0 Chrome/126.0",
    ua_family="Chrome",
    ua_automation=False,
    language="en",
    message_type="sms",
    body_matches_template=True,
    code_length=6,
)


def write_rules(folder: Path, files: dict[str, str]) -> Path:
    """Write files (relative path -> text, dedented) into `folder`; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return folder


def signals(**changes: Any) -> Signals:
    return dataclasses.replace(BASE, **changes)


def sms(recipient: str = "+447400123456", request_id: str | None = None) -> SmsRequest:
    return SmsRequest(
        request_id=request_id or f"req-{next(_ids)}",
        received_at=0.0,
        shape="sms_gateway",
        recipient=recipient,
        body="Your verification code is: 123456",
    )


def engine_for(
    folder: Path, store: VelocityStore | None = None, clock: Clock | None = None
) -> RuleEngine:
    return RuleEngine(
        load_rules(folder), store or LocalVelocity(), clock=clock or FakeClock(), path=folder
    )
