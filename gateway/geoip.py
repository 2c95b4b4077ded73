"""IP intelligence from MaxMind databases (GeoLite2 / GeoIP2 `.mmdb` files), each one optional.

    country_db    GeoLite2-Country / GeoIP2-Country, or City  -> ip.country
    asn_db        GeoLite2-ASN, or GeoIP2-ISP                 -> ip.asn, ip.org
    anonymous_db  GeoIP2-Anonymous-IP                         -> ip.anonymous/hosting/tor/proxy

A database that is not configured, or an address a country/ASN database does not hold, gives None
("unknown"), never an error. The Anonymous-IP database lists only anonymous networks, so an address
absent from it is known not to be anonymous: its flags are False, not None.

Readers use the C extension when it is installed (`maxminddb.MODE_AUTO`) and lookups are cached in a
small LRU, since attack traffic repeats the same addresses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import geoip2.database
import geoip2.errors
import geoip2.models
import maxminddb

from gateway.errors import ConfigError, Location, Problem
from gateway.settings import GeoipSettings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IpGeo:
    """What the databases say about one address; None where a database is missing or silent."""

    country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    anonymous: bool | None = None
    hosting: bool | None = None
    tor: bool | None = None
    proxy: bool | None = None


UNKNOWN = IpGeo()

# MaxMind publishes GeoLite2 twice a week; a database older than this means geoipupdate stopped.
MAX_AGE_DAYS = 35

# Which database types each setting accepts (MaxMind's `database_type` metadata, by substring).
_ACCEPTED: dict[str, tuple[str, ...]] = {
    "country_db": ("Country", "City", "Enterprise"),
    "asn_db": ("ASN", "ISP"),
    "anonymous_db": ("Anonymous-IP",),
}


class GeoIp:
    """The opened databases. Build with `GeoIp.open(settings)`; `GeoIp()` knows nothing."""

    def __init__(
        self,
        country: geoip2.database.Reader | None = None,
        asn: geoip2.database.Reader | None = None,
        anonymous: geoip2.database.Reader | None = None,
        *,
        cache_size: int = 10_000,
    ) -> None:
        self.country_reader = country
        self.asn_reader = asn
        self.anonymous_reader = anonymous
        self._country_type = country.metadata().database_type if country else ""
        self._asn_type = asn.metadata().database_type if asn else ""
        self._cached = lru_cache(maxsize=cache_size)(self._lookup)
        # (path, inode, mtime) of each opened file, to notice geoipupdate replacing it.
        self.files: dict[str, tuple[Path, int, int]] = {}

    @classmethod
    def open(cls, settings: GeoipSettings, source: str = "<settings>") -> GeoIp:
        """Open every configured database; a missing or wrong file is a ConfigError naming it."""
        problems: list[Problem] = []
        readers: dict[str, geoip2.database.Reader | None] = {}
        for key, accepted in _ACCEPTED.items():
            path: Path | None = getattr(settings, key)
            readers[key] = None
            if path is None:
                continue
            where = Location(source)
            if not path.is_file():
                problems.append(Problem(where, f"geoip.{key}: {path} does not exist"))
                continue
            try:
                reader = geoip2.database.Reader(str(path), mode=maxminddb.MODE_AUTO)
            except (OSError, maxminddb.InvalidDatabaseError, ValueError) as exc:
                problems.append(
                    Problem(where, f"geoip.{key}: {path} is not a MaxMind database: {exc}")
                )
                continue
            db_type = reader.metadata().database_type
            if not any(word in db_type for word in accepted):
                reader.close()
                problems.append(
                    Problem(
                        where,
                        f"geoip.{key}: {path} is a {db_type} database; expected "
                        + " or ".join(accepted),
                    )
                )
                continue
            readers[key] = reader
        if problems:
            for opened in readers.values():
                if opened is not None:
                    opened.close()
            raise ConfigError(problems)
        geo = cls(
            readers["country_db"],
            readers["asn_db"],
            readers["anonymous_db"],
            cache_size=settings.cache_size,
        )
        for key in _ACCEPTED:
            path = getattr(settings, key)
            if readers[key] is not None and path is not None:
                geo.files[key] = (path, *_stamp(path))
        return geo

    def replaced(self) -> bool:
        """True when a database file was replaced or rewritten since it was opened."""
        for path, inode, mtime in self.files.values():
            try:
                if _stamp(path) != (inode, mtime):
                    return True
            except OSError:
                continue  # mid-replacement or removed: keep serving the open copy
        return False

    @property
    def has_country(self) -> bool:
        return self.country_reader is not None

    @property
    def configured(self) -> bool:
        return any(
            r is not None for r in (self.country_reader, self.asn_reader, self.anonymous_reader)
        )

    def lookup(self, ip: str) -> IpGeo:
        """Everything the databases know about a normalised address (cached)."""
        if not self.configured:
            return UNKNOWN
        return self._cached(ip)

    def describe(self) -> dict[str, str]:
        """Loaded databases by setting key: "GeoLite2-Country built 2026-11-20"."""
        out: dict[str, str] = {}
        for key, reader in (
            ("country_db", self.country_reader),
            ("asn_db", self.asn_reader),
            ("anonymous_db", self.anonymous_reader),
        ):
            if reader is not None:
                meta = reader.metadata()
                built = dt.datetime.fromtimestamp(meta.build_epoch, dt.UTC).date().isoformat()
                out[key] = f"{meta.database_type} built {built}"
        return out

    def stale(self, now: float, max_age_days: float = MAX_AGE_DAYS) -> list[str]:
        """Setting keys of databases built more than `max_age_days` before `now` (unix time)."""
        return [
            key
            for key, reader in (
                ("country_db", self.country_reader),
                ("asn_db", self.asn_reader),
                ("anonymous_db", self.anonymous_reader),
            )
            if reader is not None and now - reader.metadata().build_epoch > max_age_days * 86_400
        ]

    def close(self) -> None:
        for reader in (self.country_reader, self.asn_reader, self.anonymous_reader):
            if reader is not None:
                reader.close()
        self._cached.cache_clear()

    def _lookup(self, ip: str) -> IpGeo:
        country = asn = org = None
        anonymous = hosting = tor = proxy = None
        if self.country_reader is not None:
            record = _get(self._country_lookup, ip)
            if record is not None:
                country = record.country.iso_code or record.registered_country.iso_code
        if self.asn_reader is not None:
            method = self.asn_reader.isp if "ISP" in self._asn_type else self.asn_reader.asn
            network = _get(method, ip)
            if network is not None:
                asn = network.autonomous_system_number
                org = network.autonomous_system_organization
        if self.anonymous_reader is not None:
            anonymous = hosting = tor = proxy = False  # absent from the database: not anonymous
            flags = _get(self.anonymous_reader.anonymous_ip, ip)
            if flags is not None:
                anonymous = bool(flags.is_anonymous)
                hosting = bool(flags.is_hosting_provider)
                tor = bool(flags.is_tor_exit_node)
                proxy = bool(flags.is_public_proxy or flags.is_residential_proxy)
        return IpGeo(country, asn, org, anonymous, hosting, tor, proxy)

    def _country_lookup(self, ip: str) -> geoip2.models.Country:
        assert self.country_reader is not None
        if "City" in self._country_type:
            return self.country_reader.city(ip)
        if "Enterprise" in self._country_type:
            return self.country_reader.enterprise(ip)
        return self.country_reader.country(ip)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def _get(method: Callable[[str], T], ip: str) -> T | None:
    """A record, or None when the address is not in the database (or of the wrong IP version)."""
    try:
        return method(ip)
    except (geoip2.errors.AddressNotFoundError, ValueError):
        return None
