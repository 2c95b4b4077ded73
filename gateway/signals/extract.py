"""The extractor: computes `Signals` for one request.

Phone (phonenumbers), IP (MaxMind databases when configured, Auth0's geoip otherwise), user agent,
language and message body. Unknown values are None ("unknown"), never an error.

`SignalExtractor.compute` is synchronous and cheap: phone parsing, IP normalisation, database
lookups and user-agent classification are each cached in a bounded LRU, since attack traffic
repeats the same numbers, prefixes, addresses and user agents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.countries import is_country
from gateway.geoip import GeoIp
from gateway.models import SmsRequest
from gateway.phone import phone_facts
from gateway.signals.ip import ip_facts
from gateway.signals.record import Signals
from gateway.signals.text import BODY_MATCH_MAX, compile_template, first_language, normalise_body
from gateway.useragent import classify

_DIGIT_RUN = re.compile(r"\d+")
_UA_MAX = 512  # characters of a user agent that are classified (the rest says nothing more)


class SignalExtractor:
    """Computes `Signals` for one request. Configuration (databases, templates) is injected."""

    def __init__(self, geoip: GeoIp | None = None, templates: Sequence[str] = ()) -> None:
        # GeoIp() knows nothing; setup opens the databases, and reopens them when replaced.
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
    if isinstance(code, str) and is_country(code.upper()):
        return code.upper()
    return None
