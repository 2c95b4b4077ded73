"""Velocity fixtures: a private redis-server to stop or stall."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.redisproc import RedisProcess


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server for this test only (it gets stopped or put to sleep)."""
    server = RedisProcess(
        tmp_path / "redis", appendonly=False, extra=["--enable-debug-command", "yes"]
    )
    with server:
        yield server
