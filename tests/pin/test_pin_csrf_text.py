"""PIN page CSRF check: a form token with non-ASCII text is a refusal, not a crash (regression:
hmac.compare_digest raises TypeError on non-ASCII str, which was a 500)."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from gateway.clock import FakeClock
from gateway.pin.tokens import RedirectTokens, Session
from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import FakeAuth0
from tests.pin.flow import open_pin, submit

GOOD = "839201"


def test_non_ascii_csrf_token_is_simply_wrong() -> None:
    """RedirectTokens.csrf_ok answers False for a token with non-ASCII characters."""
    tokens = RedirectTokens(b"s" * 32, tenant_domain="acme.eu.auth0.com", clock=FakeClock())
    session = Session(sub="sms|u", binding="b", claims={})
    assert not tokens.csrf_ok("nonce", "é" * 64, session, "state")
    assert not tokens.csrf_ok("nonce", "\udcff", session, "state")


async def test_pin_form_with_non_ascii_csrf_is_403(
    make_gateway: MakeGateway, auth0: tuple[FakeAuth0, TestServer]
) -> None:
    """A posted PIN form whose csrf field is non-ASCII is refused with 403, not a 500."""
    client = await make_gateway()
    form = await open_pin(client, auth0[0].session_token())
    resp = await submit(client, form, GOOD, GOOD, csrf="é" * 43)
    assert resp.status == 403
