"""The PIN JSON API with bad input: every refusal a 400 naming what is wrong, never a 500."""

from __future__ import annotations

import gzip
import json

import pytest
from aiohttp.test_utils import TestServer

from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import FakeAuth0

Auth0 = tuple[FakeAuth0, TestServer]


async def test_two_authorization_headers_are_400(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """Two Authorization headers are ambiguous: 400 naming the header, not first-wins."""
    client = await make_gateway()
    token = auth0[0].access_token()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer other")]
    resp = await client.get("/v1/pin", headers=headers)
    assert resp.status == 400
    assert (await resp.json())["field"] == "Authorization"


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        (b'{"pin": ' + b"9" * 5000 + b"}", {}, "body"),
        (json.dumps({"pin": "48\ud80027"}).encode(), {}, "pin"),
        (json.dumps({"pin": "480273"}).encode(), {"Content-Encoding": "gzip"}, "Content-Encoding"),
        (gzip.compress(b"[" * 100_000), {"Content-Encoding": "gzip"}, "body"),
    ],
)
async def test_unreadable_body_is_400(
    make_gateway: MakeGateway, auth0: Auth0, body: bytes, headers: dict[str, str], field: str
) -> None:
    """A huge integer, a lone surrogate, a gzip lie or a gzip bomb of nesting: 400, field named."""
    client = await make_gateway()
    headers = {"Authorization": f"Bearer {auth0[0].access_token()}", **headers}
    resp = await client.post("/v1/pin/verify", data=body, headers=headers)
    assert resp.status in (400, 413), await resp.text()
    assert (await resp.json())["field"] == field
