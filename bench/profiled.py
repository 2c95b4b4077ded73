"""One smsguard worker, exactly as `smsguard serve --workers 1` runs it, with a profiler on call.

SIGUSR1 starts pyinstrument, SIGUSR2 stops it and writes OUT (the session), OUT.txt (the tree),
OUT.gc.json (GC pauses by generation) and OUT.done; SIGRTMIN+1 records GC pauses only. The worker
is gateway.server's own `_run_worker`; the only addition is the signal handlers and a gc callback,
installed by wrapping `create_app`. With no signal sent it is a plain worker (the harness also
uses it for the 1-worker scaling runs).
Run: python -m bench.profiled --config FILE --out PATH
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import time
from pathlib import Path
from typing import Any

from aiohttp import web

GC_ONLY = signal.SIGRTMIN + 1  # record GC pauses only (no profiler), until SIGUSR2


def main() -> None:
    from pyinstrument import Profiler

    import gateway.app
    from gateway import server
    from gateway.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.0005)
    parser.add_argument("--async-mode", default="disabled", choices=["disabled", "enabled"])
    args = parser.parse_args()
    out = Path(args.out)
    profiler = Profiler(interval=args.interval, async_mode=args.async_mode)
    pauses: list[tuple[int, float]] = []  # (generation, seconds) of every collection
    gc_started = [0.0]
    recording = [False]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif recording[0]:
            pauses.append((info["generation"], time.perf_counter() - gc_started[0]))

    gc.callbacks.append(on_gc)

    def start() -> None:
        pauses.clear()
        recording[0] = True
        if not profiler.is_running:
            profiler.start()

    def start_gc_only() -> None:
        pauses.clear()
        recording[0] = True

    def stop() -> None:
        if not recording[0]:
            return
        recording[0] = False
        if profiler.is_running:
            session = profiler.stop()
            session.save(str(out))
            out.with_suffix(".txt").write_text(
                profiler.output_text(unicode=False, color=False, show_all=False)
            )
        by_gen = {
            str(g): {
                "count": sum(1 for gen, _ in pauses if gen == g),
                "max_ms": round(max((s for gen, s in pauses if gen == g), default=0) * 1e3, 2),
                "total_ms": round(sum(s for gen, s in pauses if gen == g) * 1e3, 1),
            }
            for g in (0, 1, 2)
        }
        out.with_suffix(".gc.json").write_text(json.dumps(by_gen))
        out.with_suffix(".done").touch()

    async def on_startup(_: web.Application) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, start)
        loop.add_signal_handler(signal.SIGUSR2, stop)
        loop.add_signal_handler(GC_ONLY, start_gc_only)

    real_create_app = gateway.app.create_app

    def create_app(*a: Any, **kw: Any) -> web.Application:
        app = real_create_app(*a, **kw)
        app.on_startup.append(on_startup)
        return app

    gateway.app.create_app = create_app  # type: ignore[assignment]
    server._run_worker(load_settings(Path(args.config)), reuse_port=False)


if __name__ == "__main__":
    main()
