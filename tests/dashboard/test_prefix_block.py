"""The one-click prefix block targets `events.prefix_digits` digits, never a wider range."""

from __future__ import annotations

import re

from tests.dashboard.conftest import Client, login, traffic


async def test_overview_block_prefix_posts_prefix_digits(client: Client) -> None:
    """During a burst to one range, the overview's "block prefix" posts the 6-digit prefix."""
    await traffic(client)
    assert await login(client) == 303
    page = await (await client.get("/dashboard")).text()
    targets = set(re.findall(r'data-block="prefix:(\d+)"', page))
    assert targets == {"447700"}


async def test_events_block_prefix_posts_prefix_digits(client: Client) -> None:
    """Every event row's "prefix" button posts 6 digits, and its recipient hides 4 of them."""
    await traffic(client)
    assert await login(client) == 303
    page = await (await client.get("/dashboard/events?action=blocked")).text()
    assert set(re.findall(r'data-block="prefix:(\d+)"', page)) == {"447700"}
    assert "+447700****" in page
