"""The ceiling: a bare aiohttp app that reads the same JSON body and answers 200 (one process).

The harness starts --workers of these on one port (SO_REUSEPORT), like `smsguard serve --workers`.
Run: python -m bench.bare --port P
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def sms(request: web.Request) -> web.Response:
    data = json.loads(await request.read())
    return web.json_response({"status": "accepted", "to": len(data.get("recipient", ""))})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/sms", sms)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=args.port, reuse_port=True, access_log=None, print=None)


if __name__ == "__main__":
    main()
