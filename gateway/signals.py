"""Signals: everything the policy may look at, computed once per request.

Phone (phonenumbers), IP (MaxMind databases when configured, Auth0's geoip otherwise), user agent,
language and message body. Unknown values are None ("unknown"), never an error.

`SignalExtractor.compute` is synchronous and cheap: phone parsing, IP normalisation, database
lookups and user-agent classification are each cached in a bounded LRU, since attack traffic
repeats the same numbers, prefixes, addresses and user agents.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import re
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from aiohttp import web

from gateway.appkeys import CLOCK, READINESS, SETTINGS, SIGNALS
from gateway.clock import SystemClock
from gateway.errors import ConfigError
from gateway.geoip import MAX_AGE_DAYS, GeoIp
from gateway.health import CheckResult
from gateway.logs import get_logger
from gateway.models import SmsRequest
from gateway.phone import phone_facts
from gateway.settings import Settings
from gateway.useragent import classify

log = get_logger("gateway.signals")


@dataclass(frozen=True, slots=True)
class Signals:
    # phone
    e164: str
    phone_valid: bool
    phone_country: str | None  # ISO alpha-2 region of the number
    calling_code: int | None
    number_type: str  # phonenumbers type name: MOBILE, FIXED_LINE, PREMIUM_RATE, ... UNKNOWN
    # ip
    ip: str | None = None
    ip_version: int | None = None
    ip_net: str | None = None  # the /24 (IPv4) or /64 (IPv6) network, e.g. "203.0.113.0/24"
    ip_country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    ip_anonymous: bool | None = None
    ip_hosting: bool | None = None
    ip_tor: bool | None = None
    ip_proxy: bool | None = None
    ip_source: str | None = None  # "maxmind", "auth0" or None
    # user agent
    user_agent: str | None = None
    ua_family: str | None = (
        None  # "Chrome", "Safari", "curl", "python-requests", "HeadlessChrome" ...
    )
    ua_automation: bool = False
    # request
    language: str | None = None
    message_type: str | None = None
    body_matches_template: bool | None = None
    code_length: int | None = None

    def prefix(self, digits: int) -> str:
        """The first `digits` digits after '+': prefix(6) of +447700900123 is '447700'."""
        return self.e164.lstrip("+")[:digits]


class SignalSource(Protocol):
    def compute(self, sms: SmsRequest) -> Signals:
        """Derive the signals for one request; must not raise on missing data."""
        ...


# --- phone -------------------------------------------------------------------------------------


# --- ip ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IpFacts:
    ip: str  # normalised: IPv4-mapped IPv6 becomes IPv4, IPv6 compressed, zone dropped
    version: int
    net: str  # the /24 or /64


@lru_cache(maxsize=65_536)
def ip_facts(text: str) -> IpFacts | None:
    """Normalise an address and find its /24 (IPv4) or /64 (IPv6); None when it is not one."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    bits = 24 if address.version == 4 else 64
    net = ipaddress.ip_network(f"{address}/{bits}", strict=False)
    return IpFacts(str(address), address.version, str(net))


# --- request -----------------------------------------------------------------------------------

_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def first_language(value: str | None) -> str | None:
    """The first tag of "en-US,en;q=0.9" (or one tag), as "en-US"; None when absent or "*"."""
    if not value:
        return None
    tag = value.split(",", 1)[0].split(";", 1)[0].strip().replace("_", "-")
    if not _LANG_TAG.match(tag):
        return None
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(
            part.upper() if len(part) == 2 else part.lower() if len(part) != 4 else part.title()
        )
    return "-".join(out)


_MACRO = re.compile(r"(@@password@@|\{\{\s*[\w.]+\s*\}\})")
_CODE_MACRO = re.compile(r"@@password@@|\{\{\s*(?:code|password)\s*\}\}")
_DIGIT_RUN = re.compile(r"\d+")


def compile_template(template: str) -> re.Pattern[str]:
    """A regex for an Auth0 SMS template: the code macro becomes digits, other macros any text.

    Template and body are both whitespace-normalised (`normalise_body`), so the pattern needs no
    `\\s+` beside a free-text macro: that pairing backtracks exponentially on hostile bodies.
    Free-text macros are bounded and bodies capped, so a match stays cheap.
    """
    parts: list[str] = []
    seen_code = False
    for token in _MACRO.split(normalise_body(template)):
        if not token:
            continue
        if _CODE_MACRO.fullmatch(token):
            parts.append(r"(?P=code)" if seen_code else r"(?P<code>\d+)")
            seen_code = True
        elif _MACRO.fullmatch(token):
            parts.append(rf"(?:.{{1,{_MACRO_MAX}}}?)")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


# An application name or similar is never longer; a template matches bodies up to 3 segments.
_MACRO_MAX = 100
BODY_MATCH_MAX = 480


def normalise_body(text: str) -> str:
    """Whitespace runs (line breaks, double spaces) become one space; ends trimmed."""
    return " ".join(text.split())


# --- the extractor -----------------------------------------------------------------------------

_UA_MAX = 512  # characters of a user agent that are classified (the rest says nothing more)


class SignalExtractor:
    """Computes `Signals` for one request. Configuration (databases, templates) is injected."""

    def __init__(self, geoip: GeoIp | None = None, templates: Sequence[str] = ()) -> None:
        # Replaced at startup when the databases open (see setup); GeoIp() knows nothing.
        self.geoip = geoip or GeoIp()
        self.templates = [compile_template(t) for t in templates]

    def compute(self, sms: SmsRequest) -> Signals:
        """Derive the signals for one request; never raises on missing or odd data."""
        phone = phone_facts(sms.recipient)
        ip = ip_facts(sms.ip) if sms.ip else None
        geo = self.geoip.lookup(ip.ip) if ip else None
        ip_country = geo.country if geo else None
        ip_source: str | None = "maxmind" if ip and self.geoip.has_country else None
        if not self.geoip.has_country:
            fallback = _auth0_country(sms)
            if fallback:
                ip_country, ip_source = fallback, "auth0"
        family, automation = self._user_agent(sms)
        template_ok, code_length = self._body(sms.body)
        return Signals(
            e164=phone.e164,
            phone_valid=phone.valid,
            phone_country=phone.country,
            calling_code=phone.calling_code,
            number_type=phone.number_type,
            ip=ip.ip if ip else None,
            ip_version=ip.version if ip else None,
            ip_net=ip.net if ip else None,
            ip_country=ip_country,
            asn=geo.asn if geo else None,
            as_org=geo.as_org if geo else None,
            ip_anonymous=geo.anonymous if geo else None,
            ip_hosting=geo.hosting if geo else None,
            ip_tor=geo.tor if geo else None,
            ip_proxy=geo.proxy if geo else None,
            ip_source=ip_source,
            user_agent=sms.user_agent,
            ua_family=family,
            ua_automation=automation,
            language=first_language(sms.language),
            message_type=sms.message_type,
            body_matches_template=template_ok,
            code_length=code_length,
        )

    @staticmethod
    def _user_agent(sms: SmsRequest) -> tuple[str | None, bool]:
        if sms.user_agent is None and sms.ip is None:
            return None, False  # Auth0 did not forward the request (forward_req_info is off)
        info = classify((sms.user_agent or "")[:_UA_MAX])
        return info.family, info.automation

    def _body(self, body: str) -> tuple[bool | None, int | None]:
        text = normalise_body(body[: BODY_MATCH_MAX * 2])
        for pattern in self.templates if len(text) <= BODY_MATCH_MAX else ():
            match = pattern.fullmatch(text)
            if match:
                code = match.groupdict().get("code")
                return True, len(code) if code else None
        runs = _DIGIT_RUN.findall(body)
        code_length = max((len(r) for r in runs), default=0) or None
        return (False if self.templates else None), code_length


def _auth0_country(sms: SmsRequest) -> str | None:
    geo = sms.auth0_geoip
    code = geo.get("countryCode") if isinstance(geo, dict) else None
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return code.upper()
    return None


# --- wiring ------------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    """Set app[SIGNALS] now; open the GeoIP databases at startup and close them on cleanup.

    A configured database file that is missing or of the wrong type fails startup with a
    ConfigError naming the `geoip.*` key.
    """
    settings = app[SETTINGS]
    clock = app.get(CLOCK) or SystemClock()
    extractor = SignalExtractor(templates=settings.signals.expected_templates)
    app[SIGNALS] = extractor

    async def geoip_databases(app: web.Application) -> AsyncIterator[None]:
        geoip = GeoIp.open(settings.geoip, settings.source)
        extractor.geoip = geoip

        async def check() -> CheckResult:
            loaded = extractor.geoip.describe()
            if not loaded:
                return CheckResult(False, "no database configured: IP conditions are unknown")
            detail = "; ".join(f"{k}: {v}" for k, v in loaded.items())
            stale = extractor.geoip.stale(clock.time())
            if stale:
                return CheckResult(
                    False,
                    f"{detail}; older than {MAX_AGE_DAYS} days: {', '.join(stale)} "
                    "(is geoipupdate running?)",
                )
            return CheckResult(True, detail)

        app[READINESS].add("geoip", check, required=False)
        interval = settings.geoip.reload_check_s
        watcher = asyncio.create_task(_reopen_replaced(extractor, settings, interval))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            extractor.geoip.close()
            extractor.geoip = GeoIp()

    app.cleanup_ctx.append(geoip_databases)


async def _reopen_replaced(extractor: SignalExtractor, settings: Settings, interval: float) -> None:
    """Every `interval` seconds, reopen the databases if geoipupdate replaced a file."""
    if interval <= 0 or not extractor.geoip.files:
        return
    while True:
        await asyncio.sleep(interval)
        if not extractor.geoip.replaced():
            continue
        try:
            fresh = await asyncio.to_thread(GeoIp.open, settings.geoip, settings.source)
        except ConfigError as exc:
            log.error("geoip_reopen_failed", problems=[str(p) for p in exc.problems])
            continue
        # compute() runs on the event loop, so no lookup is using the old readers right now.
        old, extractor.geoip = extractor.geoip, fresh
        old.close()
        log.info("geoip_reopened", databases=fresh.describe())


# --- CLI ---------------------------------------------------------------------------------------


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
        print(json.dumps(dataclasses.asdict(extractor.compute(sms)), indent=2))
    finally:
        geoip.close()
    return 0
