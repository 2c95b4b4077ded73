"""User-agent classification: a family name and whether the client is automation.

An ordered table of regular expressions, first match wins. Order matters because browsers copy each
other's tokens: every Chromium browser says "Chrome" and "Safari", Googlebot says "Mozilla", so the
specific patterns (bots, headless, Edge, Opera, Samsung) come before the general ones.

"Automation" means the caller is not a person's browser: headless browsers, HTTP libraries and
command-line tools, crawlers and bots, and an empty user agent. Results are cached (attacks repeat
the same few strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class UaInfo:
    family: str
    automation: bool


# (family, pattern, automation). Searched case-insensitively, in order.
_TABLE: tuple[tuple[str, str, bool], ...] = (
    # Headless and driven browsers
    ("HeadlessChrome", r"HeadlessChrome", True),
    ("PhantomJS", r"PhantomJS", True),
    ("Puppeteer", r"Puppeteer", True),
    ("Playwright", r"Playwright", True),
    ("Selenium", r"Selenium|WebDriver", True),
    ("Electron", r"Electron/", False),
    # HTTP libraries and tools
    ("curl", r"^curl/|\bcurl/\d", True),
    ("Wget", r"^Wget/|\bWget/\d", True),
    ("python-requests", r"python-requests/", True),
    ("python-httpx", r"python-httpx/", True),
    ("aiohttp", r"aiohttp/", True),
    ("python-urllib", r"Python-urllib/", True),
    ("Go-http-client", r"Go-http-client/", True),
    ("okhttp", r"okhttp/", True),
    ("Apache-HttpClient", r"Apache-HttpClient/", True),
    ("Java", r"^Java/|Java-http-client/|\bJava/\d", True),
    ("node-fetch", r"node-fetch", True),
    ("undici", r"undici", True),
    ("axios", r"axios/", True),
    ("got", r"^got \(|\bgot/\d", True),
    ("PostmanRuntime", r"PostmanRuntime/", True),
    ("insomnia", r"insomnia/", True),
    ("Scrapy", r"Scrapy/", True),
    ("libwww-perl", r"libwww-perl/", True),
    ("Ruby", r"^Ruby$|Faraday v|rest-client/", True),
    ("PHP", r"GuzzleHttp/|^PHP/|\bPHP-Curl", True),
    ("Dart", r"^Dart/", True),
    ("HTTPie", r"HTTPie/", True),
    ("k6", r"\bk6/", True),
    ("Apache-Bench", r"ApacheBench/", True),
    # Crawlers and bots (after the libraries: "python-requests" is not a crawler name)
    # ("CUBOT" is a phone brand: "bot" needs a word boundary or a version slash.)
    ("bot", r"bot/|bot-|\bbot\b|spider|crawler|\bcrawl|slurp|facebookexternalhit|\bheadless", True),
    # Browsers, most specific first
    ("Edge", r"Edg(e|A|iOS)?/", False),
    ("Opera", r"OPR/|Opera|OPiOS/", False),
    ("Samsung Internet", r"SamsungBrowser/", False),
    ("Yandex", r"YaBrowser/", False),
    ("UC Browser", r"UCBrowser/", False),
    ("Vivaldi", r"Vivaldi/", False),
    ("Brave", r"Brave/", False),
    ("Firefox", r"Firefox/|FxiOS/", False),
    ("Chrome", r"Chrome/|CriOS/|Chromium/", False),
    ("Safari", r"Version/[\d.]+.*Safari/|Mobile/\w+ Safari|AppleWebKit/.*Mobile/", False),
    ("Internet Explorer", r"MSIE |Trident/", False),
)

_COMPILED: tuple[tuple[str, re.Pattern[str], bool], ...] = tuple(
    (family, re.compile(pattern, re.IGNORECASE), automation)
    for family, pattern, automation in _TABLE
)

OTHER = UaInfo("Other", False)
EMPTY = UaInfo("empty", True)


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> UaInfo:
    """The family of a user-agent string and whether it is automation ("" -> empty, automation)."""
    text = user_agent.strip()
    if not text:
        return EMPTY
    for family, pattern, automation in _COMPILED:
        if pattern.search(text):
            return UaInfo(family, automation)
    return OTHER


FAMILIES: tuple[str, ...] = (*(f for f, _, _ in _TABLE), OTHER.family, EMPTY.family)
