"""Intake: only our Auth0 tenant's HMAC-signed token gets through."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.clock import FakeClock, SystemClock
from gateway.errors import AuthError
from gateway.intake import TokenVerifier
from gateway.settings import Auth0Settings
from tests.auth0 import AUDIENCE, SECRET, SUBJECT, gateway_token, unsigned_token

OTHER_SECRET = "another-secret-of-enough-length-0123456789abcdef-0123456789abcdef-00"


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(Auth0Settings(gateway_secret=SECRET), SystemClock())


def test_accepts_auth0_token(verifier: TokenVerifier) -> None:
    """A token with the configured sub and aud, signed HS256 with the secret, is accepted."""
    claims = verifier.verify(f"Bearer {gateway_token()}")
    assert claims["sub"] == SUBJECT
    assert claims["aud"] == AUDIENCE


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_accepts_other_hmac_algorithms(verifier: TokenVerifier, alg: str) -> None:
    """The rest of the HMAC family is accepted, since Auth0 does not document which it uses."""
    assert verifier.verify(f"Bearer {gateway_token(alg=alg)}")["sub"] == SUBJECT


def test_refuses_token_without_exp_by_default(verifier: TokenVerifier) -> None:
    """A token without exp would never expire: it is refused unless the operator opts out."""
    with pytest.raises(AuthError, match="no exp"):
        verifier.verify(f"Bearer {gateway_token(ttl=None)}")


def test_token_without_exp_accepted_when_opted_out() -> None:
    """With auth0.require_exp: false a token without exp is accepted (a tenant that sends none)."""
    settings = Auth0Settings(gateway_secret=SECRET, require_exp=False)
    assert TokenVerifier(settings, SystemClock()).verify(f"Bearer {gateway_token(ttl=None)}")


def test_refuses_unknown_critical_extension(verifier: TokenVerifier) -> None:
    """A validly signed token whose header lists a `crit` extension is refused (RFC 7515 4.1.11)."""
    claims = {"sub": SUBJECT, "aud": AUDIENCE, "exp": time.time() + 60}
    token = jwt.encode(claims, SECRET.encode(), algorithm="HS256", headers={"crit": ["x"], "x": 1})
    with pytest.raises(AuthError, match="crit"):
        verifier.verify(f"Bearer {token}")


def test_expiry_is_judged_by_the_injected_clock() -> None:
    """The verifier reads time from its Clock: a token valid now is expired 2 minutes later."""
    clock = FakeClock(start=time.time())
    verifier = TokenVerifier(Auth0Settings(gateway_secret=SECRET), clock)
    token = f"Bearer {gateway_token(ttl=60)}"
    assert verifier.verify(token)
    clock.advance(120)
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing Authorization"),
        ("", "missing Authorization"),
        ("Basic abc", "Bearer"),
        ("Bearer ", "Bearer"),
        ("Bearer not.a.jwt", "malformed"),
    ],
)
def test_refuses_missing_or_malformed(
    verifier: TokenVerifier, header: str | None, message: str
) -> None:
    """Absent or malformed Authorization headers are refused with a reason."""
    with pytest.raises(AuthError, match=message):
        verifier.verify(header)


def test_refuses_expired(verifier: TokenVerifier) -> None:
    """An expired token (beyond the leeway) is refused."""
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(f"Bearer {gateway_token(ttl=-120)}")


def test_refuses_wrong_secret(verifier: TokenVerifier) -> None:
    """A token signed with another secret is refused."""
    with pytest.raises(AuthError, match="signature"):
        verifier.verify(f"Bearer {gateway_token(OTHER_SECRET)}")


def test_refuses_wrong_audience(verifier: TokenVerifier) -> None:
    """A token for another audience is refused."""
    with pytest.raises(AuthError, match="audience"):
        verifier.verify(f"Bearer {gateway_token(aud='urn:Other')}")


def test_refuses_wrong_subject(verifier: TokenVerifier) -> None:
    """A token with another subject is refused."""
    with pytest.raises(AuthError, match="subject"):
        verifier.verify(f"Bearer {gateway_token(sub='urn:Mallory')}")


def test_refuses_alg_none(verifier: TokenVerifier) -> None:
    """`alg: none` is refused before anything else."""
    with pytest.raises(AuthError, match="not accepted"):
        verifier.verify(f"Bearer {unsigned_token('none')}")


def test_refuses_asymmetric_algorithm(verifier: TokenVerifier) -> None:
    """An RS256 token is refused even when validly signed: the secret is never a public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": SUBJECT, "aud": AUDIENCE}, key, algorithm="RS256")
    with pytest.raises(AuthError, match="not accepted"):
        verifier.verify(f"Bearer {token}")


def test_base64_encoded_secret() -> None:
    """With secret_base64_encoded, the secret is base64url-decoded before use, as Auth0 does."""
    raw = b"\x01\x02binary-secret-bytes\xff" * 2
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    settings = Auth0Settings(gateway_secret=encoded, secret_base64_encoded=True)
    verifier = TokenVerifier(settings, SystemClock())
    assert verifier.verify(f"Bearer {gateway_token(raw)}")
    with pytest.raises(AuthError):
        verifier.verify(f"Bearer {gateway_token(encoded)}")


def test_unconfigured_refuses_everything() -> None:
    """With no secret configured nothing is accepted (secure by default)."""
    with pytest.raises(AuthError, match=r"no auth0\.gateway_secret"):
        TokenVerifier(Auth0Settings(), SystemClock()).verify(f"Bearer {gateway_token()}")


def test_hostile_nested_header_is_401(verifier: TokenVerifier) -> None:
    """A JWT header that decodes to deeply nested JSON is refused as malformed, not a crash."""
    header = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    with pytest.raises(AuthError, match="malformed"):
        verifier.verify(f"Bearer {header}.e30.sig")
