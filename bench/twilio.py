"""A local HTTP server playing Twilio's Messages endpoint, as lean as possible (its own process).

Any POST answers 201 with a Message resource carrying a `sid`; GET /stats answers the count. It is
a bare asyncio protocol, not aiohttp, so the CPU it takes from the shared cores is small and the
figures stay the gateway's. Run: python -m bench.twilio --port P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

COUNT = [0]


class TwilioProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self._answer(head.split(" ", 2))

    def _answer(self, request_line: list[str]) -> None:
        assert self.transport is not None
        if request_line[0] == "GET":
            status, body = "200 OK", json.dumps({"count": COUNT[0]}).encode()
        else:
            COUNT[0] += 1
            status = "201 Created"
            body = b'{"sid":"SM%032d","status":"queued"}' % COUNT[0]
        self.transport.write(
            b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status.encode(), len(body), body)
        )


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(TwilioProtocol, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
