"""Fixed-rate, open-loop HTTP load with coordinated-omission-correct latencies (its own process).

Request i is *scheduled* at start + i/rate whatever happened before; its latency is measured from
that scheduled time to the last byte of the answer, so a stall of the server (or of this client)
shows up in the percentiles instead of silently delaying later sends. At most `connections`
requests are in flight (one per keep-alive connection, no pipelining); the others wait in a queue,
bounded at 2 s of traffic (beyond that they are counted as `dropped`).

It is a bare asyncio protocol rather than aiohttp's client: about a fifth of the CPU per request,
which matters when the load generator shares the machine's two cores with the server. The event
loop's timers have a 1 ms resolution, so sends run up to ~1 ms late; that lateness is inside the
measured latency (`send_lag_*` reports it) and is the same for the bare app and smsguard.

Run: python -m bench.openloop --port P --rate R --duration S [--bodies FILE --token T] [--get PATH]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import signal
import time
from pathlib import Path


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


class Conn(asyncio.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.current: tuple[float, float] | None = None  # (scheduled, sent)
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.current is not None:
            self.client.finish(self, None)

    def send(self, scheduled: float, payload: bytes) -> None:
        assert self.transport is not None
        self.current = (scheduled, time.perf_counter())
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        self.buffer = self.buffer[end + 4 + length :]
        self.client.finish(self, status)


class Client:
    def __init__(self, payloads: list[bytes], rate: float, duration: float, timeline: bool) -> None:
        self.payloads = payloads
        self.rate = rate
        self.duration = duration
        self.idle: list[Conn] = []
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.latencies: list[float] = []
        self.send_lag: list[float] = []
        self.statuses: collections.Counter[str] = collections.Counter()
        self.samples: list[tuple[float, float]] = []
        self.timeline = timeline
        self.dropped = 0
        self.in_flight = 0
        self.start = 0.0
        self.stopped = False

    def stop(self) -> None:
        """Stop scheduling (SIGINT): the run ends early, what was sent is still awaited."""
        self.stopped = True

    def finish(self, conn: Conn, status: int | None) -> None:
        assert conn.current is not None
        scheduled, sent = conn.current
        conn.current = None
        now = time.perf_counter()
        self.in_flight -= 1
        self.statuses[str(status) if status else "error"] += 1
        latency = now - scheduled
        self.latencies.append(latency)
        self.send_lag.append(sent - scheduled)
        if self.timeline:
            self.samples.append((round(scheduled - self.start, 4), round(latency * 1000, 3)))
        if not conn.closed:
            self.idle.append(conn)
            self.dispatch()

    def dispatch(self) -> None:
        while self.queue and self.idle:
            scheduled, payload = self.queue.popleft()
            conn = self.idle.pop()
            self.in_flight += 1
            conn.send(scheduled, payload)

    async def run(self, port: int, connections: int) -> dict[str, object]:
        loop = asyncio.get_running_loop()
        for _ in range(connections):
            _, conn = await loop.create_connection(lambda: Conn(self), "127.0.0.1", port)
            self.idle.append(conn)
        total = int(self.rate * self.duration)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        max_queue = max(100, int(self.rate * 2))
        self.start = time.perf_counter() + 0.05
        i = 0
        n = len(self.payloads)
        while i < total and not self.stopped:
            now = time.perf_counter()
            while i < total and self.start + i / self.rate <= now:
                if len(self.queue) >= max_queue:
                    self.dropped += 1
                else:
                    self.queue.append((self.start + i / self.rate, self.payloads[i % n]))
                i += 1
            self.dispatch()
            if i < total:
                await asyncio.sleep(max(0.0, self.start + i / self.rate - time.perf_counter()))
        deadline = time.perf_counter() + 10
        while (self.queue or self.in_flight) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - self.start
        total = min(total, i)
        lat = sorted(self.latencies)
        lag = sorted(self.send_lag)
        ms = 1000.0
        out: dict[str, object] = {
            "rate": self.rate,
            "scheduled": total,
            "completed": len(lat),
            "dropped": self.dropped,
            "unfinished": len(self.queue) + self.in_flight,
            "elapsed_s": round(elapsed, 3),
            "achieved_rps": round(len(lat) / elapsed, 1) if elapsed > 0 else 0.0,
            "statuses": dict(self.statuses),
            "p50_ms": round(percentile(lat, 50) * ms, 3),
            "p90_ms": round(percentile(lat, 90) * ms, 3),
            "p99_ms": round(percentile(lat, 99) * ms, 3),
            "p999_ms": round(percentile(lat, 99.9) * ms, 3),
            "max_ms": round((lat[-1] if lat else 0.0) * ms, 3),
            "send_lag_p50_ms": round(percentile(lag, 50) * ms, 3),
            "send_lag_p99_ms": round(percentile(lag, 99) * ms, 3),
        }
        if self.timeline:
            out["samples"] = self.samples
        return out


def build_payloads(args: argparse.Namespace) -> list[bytes]:
    host = f"Host: 127.0.0.1:{args.port}\r\n"
    if args.get:
        return [f"GET {args.get} HTTP/1.1\r\n{host}\r\n".encode()]
    lines = Path(args.bodies).read_text().splitlines()
    want = int(args.rate * args.duration) + 1
    start = args.offset % len(lines)
    picked = [lines[(start + k) % len(lines)] for k in range(min(want, len(lines)))]
    head = (
        f"POST /sms HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
        f"Authorization: Bearer {args.token}\r\n"
    )
    return [
        (head + f"Content-Length: {len(b.encode())}\r\n\r\n").encode() + b.encode() for b in picked
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies")
    parser.add_argument("--token", default="")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--get", help="GET this path instead of POST /sms")
    parser.add_argument("--timeline", action="store_true", help="include every sample")
    args = parser.parse_args()
    client = Client(build_payloads(args), args.rate, args.duration, args.timeline)
    print(json.dumps(asyncio.run(client.run(args.port, args.connections))))


if __name__ == "__main__":
    main()
