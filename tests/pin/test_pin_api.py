"""The JSON API for native apps: Auth0 access tokens in, gateway-signed step-up tokens out."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
from aiohttp.test_utils import TestServer

from gateway.clock import FakeClock
from tests.pin.conftest import MakeGateway
from tests.pin.fake_auth0 import AUDIENCE, FakeAuth0, ec_pem, ed_pem

Auth0 = tuple[FakeAuth0, TestServer]
GOOD = "480273"
STEP_UP_AUDIENCE = AUDIENCE + "#step-up"


def bearer(fake: FakeAuth0, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.access_token(**kw)}"}


async def enroll(client: Any, fake: FakeAuth0, pin: str = GOOD) -> None:
    resp = await client.post("/v1/pin", json={"pin": pin}, headers=bearer(fake))
    assert resp.status == 201, await resp.text()


async def step_up_claims(client: Any, token: str) -> dict[str, Any]:
    """Check a step-up token the way an app's API would: with /.well-known/jwks.json."""
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(jwk)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=[jwk["alg"]],
        audience=STEP_UP_AUDIENCE,
        options={"verify_exp": False},
    )
    return claims


async def test_enroll_then_verify_returns_a_step_up_token(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """Verify answers a short-lived ES256 step-up token that the published JWKS checks."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    body = await resp.json()
    assert resp.status == 200
    assert body["expires_in"] == 300
    assert jwt.get_unverified_header(body["step_up_token"])["alg"] == "ES256"
    claims = await step_up_claims(client, body["step_up_token"])
    assert claims["sub"] == "sms|user-1"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["pin_verified_at"] == int(clock.time())


async def test_step_up_token_cannot_pass_for_an_access_token(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """Step-up tokens carry their own typ header and audience, not the Auth0 API's."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    token = (await resp.json())["step_up_token"]
    assert jwt.get_unverified_header(token)["typ"] == "smsguard-step-up+jwt"
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == STEP_UP_AUDIENCE
    assert (await step_up_claims(client, token))["sub"] == "sms|user-1"


async def test_step_up_audience_is_configurable(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """pin.step_up_audience replaces the default audience of step-up tokens."""
    client = await make_gateway(step_up_audience="urn:acme:step-up")
    await enroll(client, auth0[0])
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    token = (await resp.json())["step_up_token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "urn:acme:step-up"


async def test_status_reports_enrollment(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """GET /v1/pin tells the app whether to show enrollment or verification."""
    client = await make_gateway()
    before = await (await client.get("/v1/pin", headers=bearer(auth0[0]))).json()
    await enroll(client, auth0[0])
    after = await (await client.get("/v1/pin", headers=bearer(auth0[0]))).json()
    assert (before, after) == (
        {"enrolled": False, "locked": False},
        {"enrolled": True, "locked": False},
    )


async def test_wrong_pin_names_the_field(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A wrong PIN is 403 with field "pin" and the attempts left."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    resp = await client.post("/v1/pin/verify", json={"pin": "111290"}, headers=bearer(auth0[0]))
    body = await resp.json()
    assert resp.status == 403
    assert (body["field"], body["code"], body["remaining"]) == ("pin", "wrong", 4)


async def test_api_lockout_stops_guessing(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """The JSON API shares the attempt limit: after the limit, 423 even for the right PIN."""
    client = await make_gateway(max_failures=3)
    await enroll(client, auth0[0])
    statuses = []
    for i in range(3):
        r = await client.post("/v1/pin/verify", json={"pin": f"11129{i}"}, headers=bearer(auth0[0]))
        statuses.append(r.status)
    right = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    assert statuses == [403, 403, 423]
    assert right.status == 423


async def test_change_requires_the_old_pin(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """Changing an existing PIN without old_pin is 400 naming old_pin."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    resp = await client.post("/v1/pin", json={"pin": "583920"}, headers=bearer(auth0[0]))
    body = await resp.json()
    assert resp.status == 400
    assert body["field"] == "old_pin"


async def test_change_with_the_old_pin_replaces_it(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """With the right old PIN the new one works and the old one no longer does."""
    client = await make_gateway()
    await enroll(client, auth0[0])
    resp = await client.post(
        "/v1/pin", json={"pin": "583920", "old_pin": GOOD}, headers=bearer(auth0[0])
    )
    assert resp.status == 200
    old = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    new = await client.post("/v1/pin/verify", json={"pin": "583920"}, headers=bearer(auth0[0]))
    assert (old.status, new.status) == (403, 200)


async def test_weak_pin_is_refused_with_its_code(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """Enrolling 111111 is 422 with field pin and code repeated."""
    client = await make_gateway()
    resp = await client.post("/v1/pin", json={"pin": "111111"}, headers=bearer(auth0[0]))
    body = await resp.json()
    assert resp.status == 422
    assert (body["field"], body["code"]) == ("pin", "repeated")


async def test_missing_bearer_is_401(make_gateway: MakeGateway) -> None:
    """No Authorization header: 401 naming Authorization."""
    client = await make_gateway()
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD})
    assert resp.status == 401
    assert (await resp.json())["field"] == "Authorization"


async def test_wrong_audience_is_401(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """An access token for another API is refused."""
    client = await make_gateway()
    resp = await client.post(
        "/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0], aud="https://other.api")
    )
    assert resp.status == 401


async def test_expired_access_token_is_401(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """An access token past its exp (plus leeway) is refused."""
    client = await make_gateway()
    headers = bearer(auth0[0], ttl=60)
    clock.advance(120)
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=headers)
    assert resp.status == 401
    assert "expired" in (await resp.json())["error"]


async def test_wrong_issuer_is_401(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """An access token from another tenant (iss) is refused even with a known key."""
    client = await make_gateway()
    headers = bearer(auth0[0], iss="https://evil.example/")
    assert (await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=headers)).status == 401


async def test_tenant_key_rotation_is_picked_up(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """A token signed with a new tenant key (unknown kid) triggers one JWKS refetch and passes."""
    fake = auth0[0]
    client = await make_gateway()
    await client.get("/v1/pin", headers=bearer(fake))
    fetched = fake.jwks_fetches
    clock.advance(31)
    fake.rotate("k2")
    resp = await client.get("/v1/pin", headers=bearer(fake))
    assert resp.status == 200
    assert fake.jwks_fetches == fetched + 1


async def test_concurrent_requests_share_one_jwks_fetch(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """At cold start and after a key rotation, parallel callers wait for the one fetch in flight."""
    fake = auth0[0]
    fake.jwks_delay_s = 0.2
    client = await make_gateway()

    async def statuses() -> list[int]:
        calls = [client.get("/v1/pin", headers=bearer(fake)) for _ in range(5)]
        return [r.status for r in await asyncio.gather(*calls)]

    assert await statuses() == [200] * 5
    assert fake.jwks_fetches == 1
    clock.advance(31)
    fake.rotate("k2")
    assert await statuses() == [200] * 5
    assert fake.jwks_fetches == 2


async def test_unknown_kid_refetch_is_rate_limited(
    make_gateway: MakeGateway, auth0: Auth0, clock: FakeClock
) -> None:
    """Tokens with unknown kids do not make the gateway hammer the tenant's JWKS."""
    fake = auth0[0]
    client = await make_gateway()
    await client.get("/v1/pin", headers=bearer(fake))
    fake.rotate("k2")
    signer = fake.rsa_keys.pop("k2")  # a key the tenant never publishes
    token = jwt.encode(
        {
            "iss": "https://tenant.example/",
            "sub": "x",
            "aud": AUDIENCE,
            "exp": int(clock.time()) + 60,
        },
        signer,
        algorithm="RS256",
        headers={"kid": "k2"},
    )
    for _ in range(5):
        resp = await client.get("/v1/pin", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
    assert fake.jwks_fetches == 1
    clock.advance(31)
    await client.get("/v1/pin", headers={"Authorization": f"Bearer {token}"})
    assert fake.jwks_fetches == 2


async def test_every_signing_key_is_published_and_the_first_signs(
    make_gateway: MakeGateway, auth0: Auth0
) -> None:
    """With an EdDSA key first and the old ES256 key second, EdDSA signs and both are listed."""
    client = await make_gateway(
        signing_keys=[
            {"kid": "new-ed", "private_key": ed_pem()},
            {"kid": "old-ec", "private_key": ec_pem()},
        ]
    )
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    assert [(k["kid"], k["alg"]) for k in jwks["keys"]] == [
        ("new-ed", "EdDSA"),
        ("old-ec", "ES256"),
    ]
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    await enroll(client, auth0[0])
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    token = (await resp.json())["step_up_token"]
    assert jwt.get_unverified_header(token)["kid"] == "new-ed"
    assert (await step_up_claims(client, token))["sub"] == "sms|user-1"


async def test_non_json_body_is_400(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A body that is not JSON is 400 with code bad_json."""
    client = await make_gateway()
    resp = await client.post("/v1/pin/verify", data=b"pin=1", headers=bearer(auth0[0]))
    assert resp.status == 400
    assert (await resp.json())["code"] == "bad_json"


async def test_non_string_pin_names_the_field(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """A numeric "pin" is 400 naming the field (leading zeros would be lost)."""
    client = await make_gateway()
    resp = await client.post("/v1/pin/verify", json={"pin": 480273}, headers=bearer(auth0[0]))
    assert resp.status == 400
    assert (await resp.json())["field"] == "pin"


async def test_no_pin_costs_a_dummy_verification(make_gateway: MakeGateway, auth0: Auth0) -> None:
    """Verifying a user without a PIN runs Argon2 on a dummy hash and answers like a wrong PIN."""
    from gateway.pin import PIN_STEP

    client = await make_gateway()
    hasher = client.app[PIN_STEP].service.hasher
    before = hasher.dummy_verifications
    resp = await client.post("/v1/pin/verify", json={"pin": GOOD}, headers=bearer(auth0[0]))
    assert resp.status == 403
    assert (await resp.json())["code"] == "wrong"
    assert hasher.dummy_verifications == before + 1
