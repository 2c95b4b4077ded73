"""Dashboard CSRF checks: a token with non-ASCII text is a refusal, not a crash (regression:
hmac.compare_digest raises TypeError on non-ASCII str, which was a 500)."""

from __future__ import annotations

from gateway.dashboard.auth import csrf_ok
from tests.dashboard.conftest import Client, csrf_of


def test_non_ascii_csrf_token_is_simply_wrong() -> None:
    """csrf_ok answers False for a token with non-ASCII characters."""
    assert not csrf_ok("abc", "é")
    assert not csrf_ok("abc", "\udcff")
    assert csrf_ok("é-token", "é-token")


async def test_login_with_non_ascii_csrf_is_403(client: Client) -> None:
    """A login form whose csrf field is non-ASCII is refused with 403, not a 500."""
    page = await client.get("/dashboard/login")
    csrf_of(await page.text())
    resp = await client.post(
        "/dashboard/login",
        data={"csrf": "é" * 43, "username": "alice", "password": "x"},
        allow_redirects=False,
    )
    assert resp.status == 403
