"""Settings of the signals stage: GeoIP databases and the expected SMS texts."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from gateway.settings.base import Section


class GeoipSettings(Section):
    """MaxMind databases (see docs: geoipupdate). Each optional; a missing one makes its signals
    "unknown". A configured path that does not exist stops startup."""

    # GeoLite2-Country / GeoIP2-Country (or a City database): ip.country.
    country_db: Path | None = None
    # GeoLite2-ASN (or GeoIP2-ISP): ip.asn, ip.org.
    asn_db: Path | None = None
    # GeoIP2-Anonymous-IP: ip.anonymous, ip.hosting, ip.tor, ip.proxy.
    anonymous_db: Path | None = None
    # Addresses whose lookups are kept in memory (LRU).
    cache_size: int = Field(10_000, ge=0, le=10_000_000)
    # Seconds between checks for database files replaced by geoipupdate (reopened in place);
    # 0 turns the check off (restart to pick up new files).
    reload_check_s: float = Field(300.0, ge=0)


class SignalsSettings(Section):
    """Signals computed per message (owned by gateway/signals.py)."""

    # The SMS texts Auth0 is configured to send (the connection's `template`); `@@password@@`
    # (or `{{ code }}`) stands for the code's digits. body.template_ok is true when one matches.
    expected_templates: list[str] = ["Your verification code is: @@password@@"]

    @field_validator("expected_templates")
    @classmethod
    def _templates_hold_the_code(cls, templates: list[str]) -> list[str]:
        for i, template in enumerate(templates):
            if not re.search(r"@@password@@|\{\{\s*(code|password)\s*\}\}", template):
                raise ValueError(
                    f"template {i} has no @@password@@ (or {{{{ code }}}}) where the code goes"
                )
        return templates
