"""POST /sms: the message path, end to end. (Being built: issue 2.)"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add POST /sms."""
