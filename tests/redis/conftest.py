"""Session-wide real topologies (started on first use, torn down at the end of the session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis.topologies import Cluster, SentinelSet


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A 3-master / 3-replica Redis Cluster on loopback."""
    topology = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield topology.start()
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def sentinel_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A primary, two replicas and three sentinels on loopback."""
    topology = SentinelSet(tmp_path_factory.mktemp("sentinel"))
    try:
        yield topology.start()
    finally:
        topology.stop()
