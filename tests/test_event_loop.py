"""The worker's event loop: the stdlib loop by default, uvloop with server.uvloop: true."""

from __future__ import annotations

import asyncio

import uvloop

from gateway.server import _event_loop
from gateway.settings import build_settings


def test_uvloop_when_asked_for() -> None:
    """server.uvloop: true gives a worker uvloop's loop."""
    settings = build_settings({"auth0": {"gateway_secret": "x" * 32}, "server": {"uvloop": True}})
    loop = _event_loop(settings.server.uvloop)
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_stdlib_loop_is_the_default() -> None:
    """Settings without server.uvloop give the stdlib asyncio loop."""
    settings = build_settings({"auth0": {"gateway_secret": "x" * 32}})
    loop = _event_loop(settings.server.uvloop)
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
