"""Run the app: one process, or N worker processes sharing the port (SO_REUSEPORT).

Graceful shutdown: on SIGTERM/SIGINT aiohttp stops accepting, lets in-flight requests finish for up
to server.shutdown_timeout_s, then runs every cleanup context (event buffers flushed, Redis closed).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys

from aiohttp import web

from gateway.logs import configure_logging, get_logger
from gateway.settings import Settings


def _run_worker(settings: Settings, reuse_port: bool) -> None:
    from gateway.app import create_app

    configure_logging(settings.logging.level, settings.logging.format)
    log = get_logger("gateway.server")
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    log.info(
        "worker starting", pid=os.getpid(), host=settings.server.host, port=settings.server.port
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
    )


async def _freeze_heap(_: web.Application) -> None:
    """Move everything allocated at startup (rules, lists, GeoIP, modules) out of the GC's reach.

    Otherwise full collections walk millions of long-lived objects and pause the loop for over
    100 ms, which overruns the 50 ms Redis budget and triggers needless local fallbacks.
    """
    gc.collect()
    gc.freeze()


def serve(settings: Settings) -> int:
    workers = settings.server.workers
    if workers == 1:
        _run_worker(settings, reuse_port=False)
        return 0
    if not hasattr(__import__("socket"), "SO_REUSEPORT"):
        print("server.workers > 1 needs SO_REUSEPORT (Linux, BSD, macOS)", file=sys.stderr)
        return 2
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_run_worker, args=(settings, True), daemon=False) for _ in range(workers)
    ]
    for proc in procs:
        proc.start()

    def forward(signum: int, _: object) -> None:
        for proc in procs:
            if proc.pid and proc.is_alive():
                os.kill(proc.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    code = 0
    for proc in procs:
        proc.join()
        code = code or (proc.exitcode or 0)
    return code
