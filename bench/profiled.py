"""One smsguard worker under pyinstrument: SIGUSR1 starts sampling, SIGUSR2 stops and writes.

The app is the real one (`gateway.app.create_app` on the bench settings), run like
`smsguard serve --workers 1`. The profile goes to OUT.json (pyinstrument's session) and is
summarised by bench/profile.py.
Run: python -m bench.profiled --config FILE --out PATH
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from aiohttp import web


def main() -> None:
    from pyinstrument import Profiler

    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.0005)
    parser.add_argument("--async-mode", default="disabled", choices=["disabled", "enabled"])
    args = parser.parse_args()
    settings = load_settings(Path(args.config))
    configure_logging(settings.logging.level, settings.logging.format)
    app = create_app(settings)
    profiler = Profiler(interval=args.interval, async_mode=args.async_mode)

    def start() -> None:
        if not profiler.is_running:
            profiler.start()

    def stop() -> None:
        if profiler.is_running:
            session = profiler.stop()
            session.save(args.out)
            Path(args.out).with_suffix(".txt").write_text(
                profiler.output_text(unicode=False, color=False, show_all=False)
            )
            Path(args.out).with_suffix(".done").touch()

    async def on_startup(app: web.Application) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, start)
        loop.add_signal_handler(signal.SIGUSR2, stop)

    app.on_startup.append(on_startup)
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        access_log=None,
        print=None,
        shutdown_timeout=2,
    )


if __name__ == "__main__":
    main()
