"""Real HTTP servers playing the SMS providers, for end-to-end tests of the message path."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TWILIO_SID = "AC00000000000000000000000000000001"
TWILIO_TOKEN = "twilio-auth-token-for-tests"


@dataclass
class FakeProvider:
    """Records every request it receives; answers as `mode` says."""

    mode: str = "ok"  # ok | error500 | hang | slow (answers after 0.3 s)
    received: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_post("/sms/json", self._vonage)
        return app

    async def _record(self, request: web.Request) -> dict[str, str]:
        form = dict(await request.post())
        self.received.append(
            {"path": request.path, "form": form, "auth": request.headers.get("Authorization", "")}
        )
        return {k: str(v) for k, v in form.items()}

    async def _twilio(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if self.mode == "hang":
            await asyncio.sleep(30)
        if self.mode == "slow":
            await asyncio.sleep(0.3)
        if self.mode == "error500":
            return web.json_response(
                {
                    "code": 20500,
                    "message": "Internal Server Error",
                    "more_info": "https://www.twilio.com/docs/errors/20500",
                    "status": 500,
                },
                status=500,
            )
        self.count += 1
        return web.json_response(
            {
                "sid": f"SM{self.count:032d}",
                "status": "queued",
                "to": form.get("To"),
                "body": form.get("Body"),
            },
            status=201,
        )

    async def _vonage(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if self.mode == "hang":
            await asyncio.sleep(30)
        if self.mode == "error500":
            return web.Response(status=500, text="oops")
        self.count += 1
        return web.json_response(
            {
                "message-count": "1",
                "messages": [
                    {
                        "to": form.get("to"),
                        "message-id": f"vonage-{self.count}",
                        "status": "0",
                        "remaining-balance": "10.0",
                        "message-price": "0.03",
                        "network": "23410",
                    }
                ],
            }
        )


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
