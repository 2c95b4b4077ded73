"""User-agent signals: family names and automation."""

from __future__ import annotations

import pytest

from gateway.signals import SignalExtractor
from gateway.useragent import classify
from tests.signals.helpers import sms

BROWSERS = {
    "Chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    "Opera": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
    "Samsung Internet": "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, "
    "like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
}

AUTOMATION = {
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36",
    "curl": "curl/8.5.0",
    "Wget": "Wget/1.21.4",
    "python-requests": "python-requests/2.31.0",
    "python-httpx": "python-httpx/0.27.0",
    "aiohttp": "Python/3.11 aiohttp/3.9.5",
    "Go-http-client": "Go-http-client/2.0",
    "okhttp": "okhttp/4.12.0",
    "Java": "Java/17.0.2",
    "node-fetch": "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios": "axios/1.6.8",
    "PostmanRuntime": "PostmanRuntime/7.37.3",
    "Scrapy": "Scrapy/2.11.1 (+https://scrapy.org)",
    "bot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}


@pytest.mark.parametrize(("family", "ua"), BROWSERS.items())
def test_browsers_are_named_and_not_automation(family: str, ua: str) -> None:
    """Each mainstream browser gets its own family, not its engine's, and is not automation."""
    info = classify(ua)
    assert (info.family, info.automation) == (family, False)


@pytest.mark.parametrize(("family", "ua"), AUTOMATION.items())
def test_tools_libraries_and_bots_are_automation(family: str, ua: str) -> None:
    """Headless browsers, HTTP libraries, CLI tools and crawlers are automation."""
    info = classify(ua)
    assert (info.family, info.automation) == (family, True)


def test_crawler_and_spider_words_are_bots() -> None:
    """Generic spider/crawler user agents are the "bot" family."""
    assert classify("ExampleSpider/1.0").family == "bot"
    assert classify("my-crawler (+https://example.com)").family == "bot"


def test_cubot_phone_is_not_a_bot() -> None:
    """A CUBOT phone's browser is Chrome, not a bot, despite "bot" in the model name."""
    ua = (
        "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    )
    assert classify(ua).family == "Chrome"


def test_unrecognised_user_agent_is_other_not_automation() -> None:
    """A user agent matching nothing in the table is "Other" and not automation."""
    info = classify("SomeBrandNewThing/1.0")
    assert (info.family, info.automation) == ("Other", False)


def test_empty_user_agent_is_automation() -> None:
    """A request forwarded with a blank or missing user agent is family "empty", automation."""
    for ua in ("", "   ", None):
        signals = SignalExtractor().compute(sms(user_agent=ua))
        assert (signals.ua_family, signals.ua_automation) == ("empty", True)


def test_no_forwarded_request_info_leaves_user_agent_unknown() -> None:
    """Without IP and user agent (forward_req_info off), ua.family is None and not automation."""
    signals = SignalExtractor().compute(sms(user_agent=None, ip=None))
    assert (signals.ua_family, signals.ua_automation) == (None, False)


def test_extractor_reports_raw_user_agent_and_family() -> None:
    """Signals carry the raw user agent, its family and the automation flag."""
    signals = SignalExtractor().compute(sms(user_agent="curl/8.5.0"))
    assert (signals.user_agent, signals.ua_family, signals.ua_automation) == (
        "curl/8.5.0",
        "curl",
        True,
    )
