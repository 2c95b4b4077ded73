"""SMS providers: Twilio, Vonage, a generic HTTP API and the sandbox, behind one router."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Build the providers and the router from settings; set app[ROUTER]. (Being built: issue 2.)"""
