"""Session tokens with an `exp` that is not a number: refused as invalid, not a crash (regression:
float() of a list raised TypeError, which was a 500)."""

from __future__ import annotations

import jwt
import pytest

from gateway.clock import FakeClock
from gateway.pin.tokens import RedirectTokens, TokenError

SECRET = b"s" * 32


def _session_token(exp: object) -> str:
    claims = {"iss": "https://acme.eu.auth0.com/", "sub": "sms|u", "exp": exp}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.mark.parametrize("exp", [["1"], {"at": 1}, "soon", True])
def test_session_token_with_a_non_numeric_exp_is_refused(exp: object) -> None:
    """read_session raises TokenError for an exp that is a list, an object, text or a boolean."""
    tokens = RedirectTokens(SECRET, tenant_domain="acme.eu.auth0.com", clock=FakeClock())
    with pytest.raises(TokenError, match="exp is not a number"):
        tokens.read_session(_session_token(exp))


def test_session_token_with_a_numeric_exp_string_is_read() -> None:
    """An exp written as a numeric string is still read as that time (as before)."""
    clock = FakeClock()
    tokens = RedirectTokens(SECRET, tenant_domain="acme.eu.auth0.com", clock=clock)
    session = tokens.read_session(_session_token(str(int(clock.time()) + 60)))
    assert session.sub == "sms|u"
