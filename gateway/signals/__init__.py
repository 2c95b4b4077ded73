"""Signals (stage 2): everything the policy may look at, computed once per request.

- `record`: the `Signals` record (and `SignalSource`, what the pipeline calls);
- `registry`: every signal the rules can name, declared once (kind, how it is read, whether events
  store it and the dashboard shows it): the table everything else derives from;
- `extract`: the `SignalExtractor` (phone, IP with `geoip`, user agent, language, body);
- `ip`, `text`: IP facts; the request's language and the body template match;
- `setup`: app[SIGNALS], with the GeoIP databases opened at start-up; `cli`: `smsguard signals`.
"""

from gateway.signals.cli import register
from gateway.signals.extract import SignalExtractor
from gateway.signals.ip import IpFacts, ip_facts
from gateway.signals.record import Signals, SignalSource
from gateway.signals.setup import setup
from gateway.signals.text import compile_template, first_language, normalise_body

__all__ = [
    "IpFacts",
    "SignalExtractor",
    "SignalSource",
    "Signals",
    "compile_template",
    "first_language",
    "ip_facts",
    "normalise_body",
    "register",
    "setup",
]
