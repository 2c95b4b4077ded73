"""Run the app: one process, or N worker processes sharing the port (SO_REUSEPORT).

Graceful shutdown: on SIGTERM/SIGINT aiohttp stops accepting, lets in-flight requests finish for up
to server.shutdown_timeout_s, then runs every cleanup context (event buffers flushed, Redis closed).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
import os
import secrets
import signal
import socket
import sys
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess

from aiohttp import web
from pydantic import SecretStr

from gateway.clock import Clock, SystemClock
from gateway.logs import configure_logging, get_logger
from gateway.settings import Settings


def _exit_with_parent() -> None:
    """Linux: the kernel sends this worker SIGTERM when the supervisor dies (even by SIGKILL or
    the OOM killer), so no worker outlives it holding the port. Elsewhere: nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


_PR_SET_PDEATHSIG = 1


def _run_worker(settings: Settings, reuse_port: bool) -> None:
    from gateway.app import create_app

    if reuse_port:
        # A worker of many: its own session, so a signal sent to the whole process group
        # (Ctrl-C, systemd) reaches only the parent, which forwards it exactly once. A second
        # SIGTERM in the middle of aiohttp's drain would abort the requests being drained.
        os.setsid()
        _exit_with_parent()
    # Until the rules loader installs its SIGHUP handler, a reload signal must not kill us.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_logging(settings.logging.level, settings.logging.format)
    log = get_logger("gateway.server")
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    loop = _event_loop(settings.server.uvloop)
    log.info(
        "worker starting",
        pid=os.getpid(),
        loop=type(loop).__module__.split(".")[0],
        host=settings.server.host,
        port=settings.server.port,
    )
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        reuse_port=reuse_port or None,
        shutdown_timeout=settings.server.shutdown_timeout_s,
        access_log=None,  # the request_log middleware writes the one line per request
        print=None,
        handle_signals=True,
        loop=loop,
    )


def _event_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    """uvloop's loop when asked for and installed (fewer instructions a request), else asyncio's."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass  # a platform without it (Windows): the stdlib loop serves the same
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def _freeze_heap(_: web.Application) -> None:
    """Move everything allocated at startup (rules, lists, GeoIP, modules) out of the GC's reach.

    Otherwise full collections walk millions of long-lived objects and pause the loop for over
    100 ms, which overruns the 50 ms Redis budget and triggers needless local fallbacks.
    """
    gc.collect()
    gc.freeze()


# A worker that dies this soon after starting is failing, not crashing: after a few in a row
# the whole server stops instead of restarting it forever.
QUICK_EXIT_S = 5.0
MAX_QUICK_EXITS = 3


def serve(settings: Settings, clock: Clock | None = None) -> int:
    """Run the gateway; with server.workers > 1, supervise that many worker processes."""
    clock = clock or SystemClock()
    workers = settings.server.workers
    if workers == 1:
        _run_worker(settings, reuse_port=False)
        return 0
    if not hasattr(socket, "SO_REUSEPORT"):
        print("server.workers > 1 needs SO_REUSEPORT (Linux, BSD, macOS)", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level, settings.logging.format)
    log = get_logger("gateway.server")
    if settings.logging.phone_hash_key is None:
        # One key for all workers, so a number hashes the same whichever worker logs it.
        key = SecretStr(secrets.token_urlsafe(32))
        settings = settings.model_copy(
            update={"logging": settings.logging.model_copy(update={"phone_hash_key": key})}
        )
    ctx = multiprocessing.get_context("spawn")

    def start() -> tuple[SpawnProcess, float]:
        proc = ctx.Process(target=_run_worker, args=(settings, True), daemon=False)
        proc.start()
        return proc, clock.monotonic()

    procs = [start() for _ in range(workers)]
    stopping: list[int] = []

    def stop(signum: int, _: object) -> None:
        if stopping:
            return  # forward a stop once: a second one would cut the drain short
        stopping.append(signum)
        for proc, _started in procs:
            if proc.pid and proc.is_alive():
                os.kill(proc.pid, signum)

    def reload(signum: int, _: object) -> None:
        for proc, _started in procs:
            if proc.pid and proc.is_alive():
                os.kill(proc.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    quick_exits = 0
    while not stopping:
        wait([proc.sentinel for proc, _ in procs])
        for index, (proc, started) in enumerate(procs):
            if stopping or proc.is_alive():
                continue
            quick_exits = quick_exits + 1 if clock.monotonic() - started < QUICK_EXIT_S else 0
            log.error("worker exited", pid=proc.pid, code=proc.exitcode, restart=not stopping)
            if quick_exits >= MAX_QUICK_EXITS:
                log.error("workers keep failing at start; stopping", attempts=quick_exits)
                stop(signal.SIGTERM, None)
                break
            procs[index] = start()
    code = 0
    for proc, _started in procs:
        proc.join()
        code = code or (proc.exitcode or 0)
    return 1 if quick_exits >= MAX_QUICK_EXITS else code
