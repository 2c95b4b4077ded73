"""Start and stop a private `redis-server` process (for `make run` and the test suite).

Production deployments point `redis.url` at their own Redis; this exists so a fresh machine can
run the gateway and its tests with nothing else running.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from gateway.clock import Clock, SystemClock
from gateway.errors import SmsGuardError


class RedisNotInstalled(SmsGuardError, RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class RedisProcess:
    """A redis-server child process on loopback with its data in `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        appendonly: bool = True,
        extra: list[str] | None = None,
        config_file: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._clock = clock or SystemClock()
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra = extra or []
        self.config_file = config_file  # first argument when set (a sentinel's rewritable config)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisNotInstalled(
                "redis-server not found: install it (apt-get install redis-server) or set REDIS_URL"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            *([str(self.config_file)] if self.config_file else []),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--protected-mode",
            "yes",
            *self.extra,
        ]
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = self._clock.monotonic() + timeout
        while self._clock.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """End the process as a crash would (SIGKILL: no shutdown, no failover handover)."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
