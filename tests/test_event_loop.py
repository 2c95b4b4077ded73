"""The worker's event loop: uvloop by default, the stdlib loop with server.uvloop: false."""

from __future__ import annotations

import asyncio

import uvloop

from gateway.server import _event_loop
from gateway.settings import build_settings


def test_uvloop_is_the_default() -> None:
    """Settings without server.uvloop give a worker uvloop's loop."""
    settings = build_settings({"auth0": {"gateway_secret": "x" * 32}})
    loop = _event_loop(settings.server.uvloop)
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_uvloop_can_be_turned_off() -> None:
    """server.uvloop: false gives the stdlib asyncio loop."""
    loop = _event_loop(False)
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
