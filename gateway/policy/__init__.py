"""The policy engine: ordered YAML rules, named lists, velocity counters -> a Decision.

The message path depends only on the `Policy` protocol below.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from gateway.appkeys import POLICY

from gateway.models import Decision, SmsRequest
from gateway.signals import Signals


class Policy(Protocol):
    async def decide(self, sms: SmsRequest, signals: Signals) -> Decision:
        """Evaluate the rules for one request (velocity counters updated in one Redis round trip)."""
        ...

    async def settle(self, sms: SmsRequest, signals: Signals, decision: Decision, sent: bool) -> None:
        """Told after the send attempt, for counters that count only messages actually sent."""
        ...


class AllowAll:
    """The decision seam before the rule engine exists: every message is allowed."""

    async def decide(self, sms: SmsRequest, signals: Signals) -> Decision:
        return Decision.allow("no policy loaded")

    async def settle(self, sms: SmsRequest, signals: Signals, decision: Decision, sent: bool) -> None:
        return None


def setup(app: web.Application) -> None:
    """Install the policy engine as app[POLICY]."""
    app[POLICY] = AllowAll()
