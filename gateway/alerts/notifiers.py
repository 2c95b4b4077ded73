"""Where alerts go: a signed JSON webhook, Slack incoming webhooks, PagerDuty Events API v2.

Each notifier turns an `Alert` into one HTTP request. `deliver` raises `AlertDeliveryError` with
`retryable` set when trying again may help (connection errors, timeouts, 429, 5xx); a 4xx other
than 429 means the receiver refuses this message and retrying would only repeat it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Protocol, assert_never

import aiohttp

from gateway.alerts.model import Alert, Severity, Status, iso
from gateway.clock import Clock
from gateway.errors import AlertDeliveryError
from gateway.settings import (
    NotifierSettings,
    PagerDutySettings,
    SlackSettings,
    WebhookSettings,
)

SIGNATURE_HEADER = "X-Smsguard-Signature"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One HTTP request to a receiver: kept apart from sending, so tests can read it."""

    url: str
    body: bytes
    headers: dict[str, str]


class Notifier(Protocol):
    name: str
    min_severity: Severity
    timeout_s: float

    def render(self, alert: Alert, link: str) -> Outgoing: ...


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>">`: the timestamp stops replays."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def alert_document(alert: Alert, link: str) -> dict[str, object]:
    """The webhook's JSON body (documented in the README)."""
    return {
        "incident": alert.key,
        "status": alert.status.value,
        "severity": alert.severity.label,
        "title": alert.title,
        "summary": alert.summary,
        "since": iso(alert.since),
        "values": alert.values,
        "link": link,
        "source": "smsguard",
    }


class WebhookNotifier:
    def __init__(self, settings: WebhookSettings, clock: Clock) -> None:
        self.name = settings.name
        self.min_severity = Severity.parse(settings.min_severity)
        self.timeout_s = settings.timeout_s
        self._url = settings.url
        self._secret = settings.secret.get_secret_value().encode()
        self._clock = clock

    def render(self, alert: Alert, link: str) -> Outgoing:
        body = json.dumps(alert_document(alert, link), separators=(",", ":")).encode()
        signature = sign(self._secret, int(self._clock.time()), body)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        return Outgoing(self._url, body, headers)


_SLACK_ICON = {Severity.INFO: ":information_source:", Severity.WARNING: ":warning:"}


class SlackNotifier:
    def __init__(self, settings: SlackSettings, clock: Clock) -> None:
        self.name = settings.name
        self.min_severity = Severity.parse(settings.min_severity)
        self.timeout_s = settings.timeout_s
        self._url = settings.webhook_url.get_secret_value()

    def render(self, alert: Alert, link: str) -> Outgoing:
        if alert.status is Status.RESOLVED:
            head = f":white_check_mark: Resolved: {alert.title}"
        else:
            icon = _SLACK_ICON.get(alert.severity, ":rotating_light:")
            head = f"{icon} {alert.severity.label.upper()}: {alert.title}"
        text = f"{head}\n{alert.summary} (since {iso(alert.since)})\n<{link}|Open in smsguard>"
        body = json.dumps({"text": text}).encode()
        return Outgoing(self._url, body, {"Content-Type": "application/json"})


# PagerDuty's own severities; ours map onto three of them.
_PD_SEVERITY = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "critical"}


class PagerDutyNotifier:
    def __init__(self, settings: PagerDutySettings, clock: Clock) -> None:
        self.name = settings.name
        self.min_severity = Severity.parse(settings.min_severity)
        self.timeout_s = settings.timeout_s
        self._url = settings.url
        self._routing_key = settings.routing_key.get_secret_value()
        self._clock = clock

    def render(self, alert: Alert, link: str) -> Outgoing:
        event: dict[str, object] = {
            "routing_key": self._routing_key,
            # The incident key keeps trigger and resolve of one incident on one PagerDuty alert.
            "dedup_key": f"smsguard:{alert.key}",
        }
        if alert.status is Status.RESOLVED:
            event["event_action"] = "resolve"
        else:
            event["event_action"] = "trigger"
            event["payload"] = {
                "summary": f"{alert.title}: {alert.summary}"[:1024],
                "source": "smsguard",
                "severity": _PD_SEVERITY[alert.severity],
                "timestamp": iso(alert.since),
                "component": alert.key.split(":", 1)[0],
                "custom_details": alert.values,
            }
            event["links"] = [{"href": link, "text": "Open in smsguard"}]
        body = json.dumps(event).encode()
        return Outgoing(self._url, body, {"Content-Type": "application/json"})


def build_notifier(settings: NotifierSettings, clock: Clock) -> Notifier:
    """One line per notifier type (its settings class is in `gateway.settings`)."""
    match settings:
        case WebhookSettings():
            return WebhookNotifier(settings, clock)
        case SlackSettings():
            return SlackNotifier(settings, clock)
        case PagerDutySettings():
            return PagerDutyNotifier(settings, clock)
    assert_never(settings)


async def post(session: aiohttp.ClientSession, out: Outgoing, name: str, seconds: float) -> None:
    """Send one request; raise AlertDeliveryError saying whether a retry may help."""
    try:
        async with session.post(
            out.url,
            data=out.body,
            headers=out.headers,
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as response:
            if 200 <= response.status < 300:
                return
            retryable = response.status == 429 or response.status >= 500
            raise AlertDeliveryError(name, f"answered {response.status}", retryable=retryable)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AlertDeliveryError(name, type(exc).__name__, retryable=True) from None
