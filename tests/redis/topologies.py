"""Real Redis topologies on loopback: a 3-master/3-replica Cluster and a Sentinel set.

Both start in a few seconds with short failure-detection timeouts (1 s), so a failover test sees
the promotion within a few seconds. Processes are killed with SIGKILL to play a crash.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis as SyncRedis

from gateway.redisproc import RedisProcess, port_free

NODE_TIMEOUT_MS = 1000  # cluster-node-timeout and sentinel down-after: failure seen within ~1-2 s
# Sentinels that split their votes try again after twice the failover timeout: 4 s, not 20.
SENTINEL_FAILOVER_TIMEOUT_MS = 2000
# A replica's first sync starts at once (Redis 7 waits 5 s for more replicas to share it); a
# replica that has not synced yet cannot be promoted.
FAST_SYNC = ["--repl-diskless-sync-delay", "0"]


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20_000, 55_000)
        if port_free(port) and port_free(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def wait_for(what: str, ready: Callable[[], bool], timeout_s: float = 30.0) -> float:
    """Poll `ready` until true; the seconds it took. Raises naming `what` after the timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if ready():
                return time.monotonic() - start
        except Exception:  # noqa: S110 - a node still starting or failing over: poll again
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not within {timeout_s} s")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _sync(port: int) -> SyncRedis:
    return SyncRedis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)


@dataclass
class Cluster:
    """Six cluster-enabled redis-servers joined as 3 masters with one replica each."""

    folder: Path
    nodes: list[RedisProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def seeds(self) -> list[str]:
        return [f"127.0.0.1:{n.port}" for n in self.nodes]

    def start(self) -> Cluster:
        for i in range(6):
            port = cluster_port()
            node = RedisProcess(
                self.folder / f"node-{i}",
                port=port,
                appendonly=False,
                extra=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    str(NODE_TIMEOUT_MS),
                    *FAST_SYNC,
                ],
            )
            self.nodes.append(node.start())
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli not found (Debian: apt-get install redis-tools)")
        subprocess.run(
            [cli, "--cluster", "create", *self.seeds, "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout_s: float = 30.0) -> float:
        """Every running node reports cluster_state:ok and every slot is served by a master."""

        def ok() -> bool:
            for node in self.running():
                with _sync(node.port) as r:
                    info = r.execute_command("CLUSTER", "INFO")
                    text = info.decode() if isinstance(info, bytes) else str(info)
                    if "cluster_state:ok" not in text or "cluster_slots_ok:16384" not in text:
                        return False
                    replication = r.info("replication")
                    if replication["role"] == "slave" and (
                        replication["master_link_status"] != "up"
                    ):
                        return False
            return True

        return wait_for("cluster healthy", ok, timeout_s)

    def running(self) -> list[RedisProcess]:
        return [n for n in self.nodes if n.running]

    def master_of(self, key: str) -> RedisProcess:
        """The process serving `key`'s slot as master now."""
        with _sync(self.running()[0].port) as r:
            slot = int(r.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in r.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise LookupError(key)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class SentinelSet:
    """One primary, two replicas and three sentinels watching them as `mymaster`."""

    folder: Path
    service: str = "mymaster"
    servers: list[RedisProcess] = field(default_factory=list)
    sentinels: list[RedisProcess] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    def start(self) -> SentinelSet:
        primary = RedisProcess(self.folder / "server-0", appendonly=False, extra=FAST_SYNC)
        primary.start()
        self.servers.append(primary)
        for i in (1, 2):
            replica = RedisProcess(
                self.folder / f"server-{i}",
                appendonly=False,
                extra=["--replicaof", "127.0.0.1", str(primary.port), *FAST_SYNC],
            )
            self.servers.append(replica.start())
        for i in range(3):
            folder = self.folder / f"sentinel-{i}"
            folder.mkdir(parents=True)
            config = folder / "sentinel.conf"
            config.write_text(
                f"sentinel monitor {self.service} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.service} {NODE_TIMEOUT_MS}\n"
                f"sentinel failover-timeout {self.service} {SENTINEL_FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {self.service} 2\n",
                encoding="utf-8",
            )
            sentinel = RedisProcess(
                folder, appendonly=False, config_file=config, extra=["--sentinel"]
            )
            self.sentinels.append(sentinel.start())
        self.wait_healthy()
        return self

    def primary_port(self) -> int:
        with _sync(self.sentinels[0].port) as r:
            _, port = r.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(port)

    def primary(self) -> RedisProcess:
        port = self.primary_port()
        return next(s for s in self.servers if s.port == port)

    def wait_healthy(self, timeout_s: float = 30.0) -> float:
        """Every sentinel knows the others and agrees on a primary with two replicas in sync."""

        def ok() -> bool:
            ports = set()
            for sentinel in self.sentinels:
                with _sync(sentinel.port) as r:
                    state = r.execute_command("SENTINEL", "MASTER", self.service)
                    if isinstance(state, list):  # RESP2 without a callback: flat pairs
                        state = dict(zip(state[::2], state[1::2], strict=True))
                    fields = {_text(k): _text(v) for k, v in state.items()}
                    if fields["num-other-sentinels"] != "2" or fields["num-slaves"] != "2":
                        return False
                    ports.add(int(fields["port"]))
            if len(ports) != 1:
                return False
            (port,) = ports
            with _sync(port) as r:
                info = r.info("replication")
            replicas = [info.get(f"slave{i}", {}) for i in range(2)]
            return bool(
                info["role"] == "master" and all(rep.get("state") == "online" for rep in replicas)
            )

        return wait_for("sentinel set healthy", ok, timeout_s)

    def stop(self) -> None:
        for process in [*self.sentinels, *self.servers]:
            process.stop()
