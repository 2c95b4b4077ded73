"""Wiring: setup(app) publishes the extractor, opens GeoIP at startup, reports readiness."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.pytest_plugin import AiohttpClient

from gateway import signals
from gateway.appkeys import CLOCK, READINESS, SETTINGS, SIGNALS
from gateway.clock import FakeClock
from gateway.errors import ConfigError
from gateway.health import Readiness, readyz
from gateway.settings import GeoipSettings, Settings, SignalsSettings
from gateway.signals import SignalExtractor
from tests.geoip_fixtures import write_country_db
from tests.signals.helpers import sms


def make_app(settings: Settings, clock: FakeClock | None = None) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[CLOCK] = clock or FakeClock(time.time())
    app[READINESS] = Readiness(details=True)
    app.router.add_get("/readyz", readyz)
    signals.setup(app)
    return app


async def test_readiness_lists_loaded_databases(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """With a country database, /readyz shows geoip ok with the database's type."""
    db = write_country_db(tmp_path / "country.mmdb", {"203.0.113.0/24": "GB"})
    client = await aiohttp_client(make_app(Settings(geoip=GeoipSettings(country_db=db))))
    body = await (await client.get("/readyz")).json()
    assert body["checks"]["geoip"]["status"] == "ok"
    assert "country_db: GeoLite2-Country built" in body["checks"]["geoip"]["detail"]


async def test_old_database_is_a_warning(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    """A database built more than 35 days ago turns geoip into a warning naming it."""
    db = write_country_db(tmp_path / "country.mmdb", {"203.0.113.0/24": "GB"})
    later = FakeClock(time.time() + 40 * 86_400)
    client = await aiohttp_client(make_app(Settings(geoip=GeoipSettings(country_db=db)), later))
    check = (await (await client.get("/readyz")).json())["checks"]["geoip"]
    assert check["status"] == "warn"
    assert "older than 35 days: country_db (is geoipupdate running?)" in check["detail"]


async def test_extractor_uses_databases_opened_at_startup(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """After startup app[SIGNALS] looks addresses up in the configured database."""
    db = write_country_db(tmp_path / "country.mmdb", {"203.0.113.0/24": "GB"})
    app = make_app(Settings(geoip=GeoipSettings(country_db=db)))
    await aiohttp_client(app)
    assert app[SIGNALS].compute(sms(ip="203.0.113.9")).ip_country == "GB"


async def test_no_database_is_a_warning_not_a_failure(aiohttp_client: AiohttpClient) -> None:
    """Without databases the gateway is ready; geoip warns that IP conditions are unknown."""
    client = await aiohttp_client(make_app(Settings()))
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200
    assert body["checks"]["geoip"] == {
        "status": "warn",
        "detail": "no database configured: IP conditions are unknown",
    }


async def test_missing_database_fails_startup_naming_the_key(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """A configured database path that does not exist stops startup with geoip.<key>."""
    settings = Settings(geoip=GeoipSettings(country_db=tmp_path / "nope.mmdb"))
    with pytest.raises(ConfigError, match=r"geoip\.country_db: .*nope\.mmdb does not exist"):
        await aiohttp_client(make_app(settings))


async def test_extractor_is_built_at_startup_with_configured_templates(
    aiohttp_client: AiohttpClient,
) -> None:
    """app[SIGNALS] exists from startup on (not before) and uses signals.expected_templates."""
    app = make_app(Settings(signals=SignalsSettings(expected_templates=["Code: @@password@@"])))
    assert SIGNALS not in app
    await aiohttp_client(app)
    extractor = app[SIGNALS]
    assert isinstance(extractor, SignalExtractor)
    assert extractor.compute(sms(body="Code: 1234")).body_matches_template is True


async def test_database_replaced_by_geoipupdate_is_reopened(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """A database file replaced on disk (as geoipupdate does) is reopened without a restart."""
    db = write_country_db(tmp_path / "country.mmdb", {"203.0.113.0/24": "GB"})
    geoip = GeoipSettings(country_db=db, reload_check_s=0.01)
    app = make_app(Settings(geoip=geoip))
    await aiohttp_client(app)
    assert app[SIGNALS].compute(sms(ip="203.0.113.9")).ip_country == "GB"
    fresh = write_country_db(tmp_path / "download.mmdb", {"203.0.113.0/24": "IE"})
    fresh.replace(db)
    for _ in range(500):  # polls until the watcher has swapped the readers (no timing asserted)
        if app[SIGNALS].compute(sms(ip="203.0.113.9")).ip_country == "IE":
            break
        await asyncio.sleep(0.01)
    assert app[SIGNALS].compute(sms(ip="203.0.113.9")).ip_country == "IE"
