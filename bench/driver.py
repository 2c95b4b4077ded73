"""A fixed, deterministic count of what one decision costs: the real app in-process, load-free.

Wall-clock figures need a quiet machine (`make bench`); these counts do not. The driver builds the
real app (create_app: shipped rules + small generated lists, generated GeoIP databases, a real
redis-server, the harness's Twilio stand-in in its own process), serves it on loopback, and sends
N requests of each workload (attack, then clean) over a few keep-alive connections with a
raw-socket client that costs little next to the server. Per phase it prints loop callbacks (a
proxy for awaits that suspend; partial under uvloop), GC collections per generation, process CPU
(load-dependent) and, with --tracemalloc, memory blocks kept, all per request.

Instructions per request: run it under callgrind and let the driver mark the phases:

    valgrind --tool=callgrind --dump-before=getppid --callgrind-out-file=/tmp/cg.%p \\
        .venv/bin/python -m bench.driver --n 300
    # cg.<pid>.1 = start-up, .2 = attack phase, .3 = clean phase (os.getppid() marks each start)

Options: --n N (requests per workload), --log on|aggregate|off (the request line),
--loop asyncio|uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 8


def _mark() -> None:
    """A libc call nothing else on the path makes: callgrind dumps its counters before it."""
    os.getppid()


async def _client(port: int, requests: list[bytes]) -> int:
    """Send the requests on one keep-alive connection, one at a time; count non-2xx answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bad = 0
    for raw in requests:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        bad += not 200 <= status < 300
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
    writer.close()
    return bad


async def _wait_port(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on {port}")


def _requests(bodies: list[str], token: str) -> list[bytes]:
    out = []
    for body in bodies:
        data = body.encode()
        out.append(
            b"POST /sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
        )
    return out


class _StepCounter:
    """Counts callbacks scheduled on the loop: task steps (an await that suspended and resumed),
    future callbacks and the protocol's own; a proxy for the awaits a request costs."""

    def __init__(self) -> None:
        self.steps = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        original = loop.call_soon

        def call_soon(callback: Any, *args: Any, **kw: Any) -> asyncio.Handle:
            self.steps += 1
            return original(callback, *args, **kw)

        try:
            loop.call_soon = call_soon  # type: ignore[method-assign]
        except AttributeError:
            self.steps = -(10**12)  # uvloop's loop takes no attribute: no count (negative)


async def _phase(
    name: str, port: int, reqs: list[bytes], counter: _StepCounter, trace: bool
) -> dict[str, Any]:
    chunks = [reqs[i::CONNECTIONS] for i in range(CONNECTIONS)]
    gc_before = [s["collections"] for s in gc.get_stats()]
    steps_before = counter.steps
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    blocks_before = _blocks() if trace else 0
    cpu = time.process_time()
    _mark()
    bad = sum(await asyncio.gather(*(_client(port, c) for c in chunks)))
    _mark()
    cpu = time.process_time() - cpu
    blocks = (_blocks() - blocks_before) if trace else 0
    if trace:
        tracemalloc.stop()
    n = len(reqs)
    gc_after = [s["collections"] for s in gc.get_stats()]
    return {
        "phase": name,
        "requests": n,
        "non_2xx": bad,
        "loop_callbacks_per_req": round((counter.steps - steps_before) / n, 2),
        "gc_per_1000_req": [
            round((a - b) * 1000 / n, 2) for a, b in zip(gc_after, gc_before, strict=True)
        ],
        "cpu_us_per_req": round(cpu / n * 1e6, 1),
        "net_blocks_kept": blocks,
    }


def _blocks() -> int:
    return sum(stat.count for stat in tracemalloc.take_snapshot().statistics("filename"))


async def _run(opts: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    import jwt
    from aiohttp import web

    from bench import data
    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.redisproc import RedisProcess, free_port
    from gateway.settings.load import load_settings

    sizes = data.Sizes(cidrs=20_000, prefixes=2_000, clean_numbers=opts.n, attack_numbers=4)
    cache = Path(tempfile.gettempdir()) / "smsguard-driver-cache" / sizes.tag()
    bodies = data.write_bodies(cache / "bodies", sizes)
    cidr, prefix = data.write_lists(cache / "lists", sizes)
    geoip = data.write_geoip(cache / "geoip", 200)
    rules = tmp / "rules"
    data.bench_rules(ROOT / "rules", rules, cidr, prefix, sizes)
    redis = RedisProcess(tmp / "redis", appendonly=False).start()
    twilio_port = free_port()
    # Its own process, as in the harness: not counted, and on plain asyncio whatever the loop here.
    twilio = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [sys.executable, "-m", "bench.twilio", "--port", str(twilio_port)], cwd=ROOT
    )
    secret = secrets.token_urlsafe(32)
    now = int(time.time())
    token = jwt.encode(
        {"sub": "urn:Auth0", "aud": "urn:MySmsGateway", "iat": now, "exp": now + 3600},
        secret.encode(),
        algorithm="HS256",
    )
    await _wait_port(twilio_port)
    port = free_port()
    config = data.write_settings(
        tmp / "settings.yaml",
        port=port,
        workers=1,
        redis_url=redis.url,
        secret=secret,
        rules=rules,
        geoip=geoip,
        twilio_url=f"http://127.0.0.1:{twilio_port}",
        log_level="warning" if opts.log == "off" else "info",
    )
    settings = load_settings(config, environ={})
    settings = _with_log_mode(settings, opts.log)
    log_out = (tmp / "requests.log").open("w")
    configure_logging(settings.logging.level, "json", stream=log_out)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    counter = _StepCounter()
    counter.install(asyncio.get_running_loop())
    gc.collect()
    gc.freeze()
    results = []
    try:
        for name in ("attack", "clean"):
            lines = bodies[name].read_text().splitlines()[: opts.n]
            reqs = _requests(lines, token)
            results.append(await _phase(name, port, reqs, counter, opts.tracemalloc))
    finally:
        await runner.cleanup()
        twilio.terminate()
        twilio.wait()
        redis.stop()
        log_out.close()
    results.append({"log_lines": sum(1 for _ in (tmp / "requests.log").open())})
    if opts.keep_log:
        shutil.copyfile(tmp / "requests.log", opts.keep_log)
    return results


def _with_log_mode(settings: Any, mode: str) -> Any:
    if mode != "aggregate":
        return settings
    logging = settings.logging.model_copy(update={"aggregate_refusals": True})
    return settings.model_copy(update={"logging": logging})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--log", choices=("on", "aggregate", "off"), default="on")
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    ap.add_argument("--keep-log", help="copy the log the run wrote to this file")
    ap.add_argument("--tracemalloc", action="store_true", help="count blocks kept (slow)")
    opts = ap.parse_args()
    if opts.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    with tempfile.TemporaryDirectory(prefix="smsguard-driver-") as tmp:
        results = asyncio.run(_run(opts, Path(tmp)))
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
