"""gateway.clientip: the client address behind trusted proxies, which a client cannot pick."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from gateway.clientip import client_ip

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def seen_as(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> Callable[[int, list[str]], Awaitable[str]]:
    """Ask a real server which address it sees with `hops` trusted proxies and these XFF lines."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=client_ip(request, int(request.query["hops"])))

    app = web.Application()
    app.router.add_get("/", echo)
    client = await aiohttp_client(app)

    async def ask(hops: int, lines: list[str]) -> str:
        headers: CIMultiDict[str] = CIMultiDict(("X-Forwarded-For", line) for line in lines)
        resp = await client.get("/", params={"hops": str(hops)}, headers=headers)
        return await resp.text()

    return ask


Ask = Callable[[int, list[str]], Awaitable[str]]


async def test_without_trusted_proxies_the_header_is_ignored(seen_as: Ask) -> None:
    """With no trusted hops a spoofed X-Forwarded-For is ignored: the peer address counts."""
    assert await seen_as(0, ["203.0.113.66"]) == "127.0.0.1"


@pytest.mark.parametrize(
    ("hops", "lines", "expected"),
    [
        (1, ["198.51.100.7"], "198.51.100.7"),
        (1, ["203.0.113.66, 198.51.100.7"], "198.51.100.7"),
        (2, ["203.0.113.66, 198.51.100.7, 10.0.0.2"], "198.51.100.7"),
        (2, ["203.0.113.66, 198.51.100.7", "10.0.0.2"], "198.51.100.7"),
        (1, ["198.51.100.7, , "], "198.51.100.7"),
    ],
    ids=["one-hop", "spoofed-left-entry", "two-hops", "proxy-adds-own-line", "empty-entries"],
)
async def test_the_entry_added_by_the_outermost_trusted_proxy_counts(
    seen_as: Ask, hops: int, lines: list[str], expected: str
) -> None:
    """The N-th entry from the right (over every header line) is the client, never one it sent."""
    assert await seen_as(hops, lines) == expected


async def test_fewer_entries_than_trusted_hops_fall_back_to_the_peer(seen_as: Ask) -> None:
    """A request that did not pass every trusted proxy is seen as its peer address."""
    assert await seen_as(2, ["198.51.100.7"]) == "127.0.0.1"


async def test_an_overlong_entry_is_cut(seen_as: Ask) -> None:
    """An entry longer than any address is cut to 64 characters (it ends up in keys and logs)."""
    assert await seen_as(1, ["x" * 500]) == "x" * 64
