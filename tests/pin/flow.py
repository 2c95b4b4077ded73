"""Drive the browser PIN step like a browser without JavaScript: read the form, post it back."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


@dataclass
class Form:
    status: int
    text: str
    fields: dict[str, str]

    @property
    def mode(self) -> str:
        return self.fields.get("mode", "")


def hidden_fields(text: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(text)}


async def open_pin(client: Client, token: str, state: str = "st-1", **query: str) -> Form:
    resp = await client.get("/pin", params={"session_token": token, "state": state, **query})
    text = await resp.text()
    return Form(resp.status, text, hidden_fields(text))


async def submit(
    client: Client, form: Form, pin: str, confirm: str | None = None, **override: str
) -> ClientResponse:
    data: dict[str, Any] = {**form.fields, "pin": pin, **override}
    if confirm is not None:
        data["confirm"] = confirm
    return await client.post("/pin", data=data, allow_redirects=False)


async def resume(client: Client, resp: ClientResponse) -> dict[str, Any]:
    """Follow the gateway's 303 to the fake tenant's /continue; return what it answered."""
    assert resp.status == 303, await resp.text()
    async with client.session.get(resp.headers["Location"]) as answer:
        body: dict[str, Any] = await answer.json()
        body["status"] = answer.status
        return body


def continue_link(text: str) -> str:
    match = re.search(r'<a class="pin-submit" href="([^"]+)"', text)
    assert match, text
    return html.unescape(match.group(1))
