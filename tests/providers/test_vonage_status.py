"""Vonage delivery receipts: the `sig` of each signing method, verified, filed like Twilio's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from gateway.appkeys import METRICS, REDIS
from gateway.providers import delivery_status
from gateway.providers.vonage_status import vonage_signature
from gateway.settings import Settings
from tests.providers.conftest import MakeClient
from tests.providers.fakes import VONAGE_SPEC, raw_spec

PATH = "/providers/vonage/status"
SECRET = "Y6dI3wtDP8myVH5tnDoIaTxEvAJhgDVCczBa1mHniEqsdlnnebg"

# Published by Vonage: the expected signatures in its Python SDK's own tests (secret "secret").
SDK_PARAMS = {"a": "1", "b": "2", "timestamp": "1461605396"}
SDK_VECTORS = {
    "md5hash": "6af838ef94998832dbfc29020b564830",
    "md5": "c15c21ced558c93a226c305f58f902f2",
    "sha1": "3e19a4e6880fdc2c1426bfd0587c98b9532f0210",
    "sha256": "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24",
    "sha512": "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c63ed26ec9702168781b6"
    "edcf1633db8ff95af9341701004eec3fcf9550572ee8",
}


def vonage_settings(method: str = "md5hash", secret: str | None = SECRET) -> Settings:
    provider: dict[str, Any] = {
        "name": "vonage",
        "type": "vonage",
        "api_key": "abcd1234",
        "api_secret": "abcdef0123456789",
        "from": "AcmeInc",
        "signature_method": method,
    }
    if secret is not None:
        provider["signature_secret"] = secret
    return Settings.model_validate({"providers": [provider]})


def receipt(status: str = "delivered", **extra: str) -> dict[str, str]:
    """A delivery receipt with the fields of the spec's DeliveryReceipt example."""
    return {
        "msisdn": "447700900000",
        "to": "AcmeInc",
        "network-code": "23410",
        "messageId": "0A0000001234567B",
        "price": "0.03330000",
        "status": status,
        "scts": "2001011400",
        "err-code": "0" if status == "delivered" else "5",
        "api-key": "abcd1234",
        "client-ref": "m1",
        "message-timestamp": "2020-01-01 12:00:00",
        "timestamp": "1582650446",
        "nonce": "ec11dd3e-1e7f-4db5-9467-82b02cd223b9",
        **extra,
    }


def signed(params: dict[str, str], method: str = "md5hash", secret: str = SECRET) -> dict[str, str]:
    return {**params, "sig": vonage_signature(secret, method, params)}


@pytest.mark.parametrize("method", sorted(SDK_VECTORS))
def test_signature_matches_vonages_published_vectors(method: str) -> None:
    """Each signing method gives the signature Vonage's own SDK tests expect."""
    assert vonage_signature("secret", method, SDK_PARAMS).lower() == SDK_VECTORS[method]


def test_ampersand_and_equals_in_values_are_signed_as_underscores() -> None:
    """A value with & or = is signed with _ in their place (as Vonage signs it)."""
    assert vonage_signature("s", "md5hash", {"a": "x&y=z"}) == vonage_signature(
        "s", "md5hash", {"a": "x_y_z"}
    )


@pytest.mark.shared
def test_receipt_used_in_these_tests_is_valid_against_the_spec(shared_dir: Path) -> None:
    """The receipt the tests post is a DeliveryReceipt of Vonage's published spec."""
    spec_path = shared_dir / "providers" / VONAGE_SPEC
    if not spec_path.is_file():
        pytest.skip(f"{spec_path} is absent")
    spec = raw_spec(VONAGE_SPEC, shared_dir / "providers")
    schema = spec["components"]["schemas"]["DeliveryReceipt"]
    jsonschema.validate(signed(receipt(), "sha256"), schema)
    assert set(receipt()) | {"sig"} == set(schema["properties"])


@pytest.mark.parametrize("method", sorted(SDK_VECTORS))
async def test_signed_json_receipt_is_recorded(make_client: MakeClient, method: str) -> None:
    """A receipt signed with the configured method is stored against our client-ref."""
    client = await make_client(vonage_settings(method))
    response = await client.post(PATH, json=signed(receipt(), method))
    status = await delivery_status(client.app[REDIS], "m1")
    assert response.status == 200
    assert status is not None
    assert (status["status"], status["provider"], status["provider_price"]) == (
        "delivered",
        "vonage",
        "0.03330000",
    )
    assert client.app[METRICS].delivery_status.labels("vonage", "delivered")._value.get() == 1


async def test_receipt_as_a_get_query_is_recorded(make_client: MakeClient) -> None:
    """A receipt sent as GET query parameters (Vonage's other delivery method) is recorded."""
    client = await make_client(vonage_settings())
    response = await client.get(PATH, params=signed(receipt("failed")))
    status = await delivery_status(client.app[REDIS], "m1")
    assert response.status == 200
    assert status is not None
    assert (status["status"], status["error_code"]) == ("failed", "5")


async def test_receipt_as_a_form_is_recorded(make_client: MakeClient) -> None:
    """A receipt POSTed as a form is recorded."""
    client = await make_client(vonage_settings())
    response = await client.post(PATH, data=signed(receipt("expired")))
    assert response.status == 200
    assert ((await delivery_status(client.app[REDIS], "m1")) or {}).get("status") == "expired"


async def test_bad_signature_is_refused(make_client: MakeClient) -> None:
    """A receipt signed with another secret gets 403 and records nothing."""
    client = await make_client(vonage_settings())
    response = await client.post(PATH, json=signed(receipt(), secret="another-secret"))
    assert response.status == 403
    assert await delivery_status(client.app[REDIS], "m1") is None


async def test_tampered_receipt_is_refused(make_client: MakeClient) -> None:
    """Changing a signed field (failed -> delivered) breaks the signature."""
    client = await make_client(vonage_settings())
    body = {**signed(receipt("failed")), "status": "delivered"}
    assert (await client.post(PATH, json=body)).status == 403


async def test_unsigned_receipt_is_refused(make_client: MakeClient) -> None:
    """A receipt without `sig` is refused."""
    client = await make_client(vonage_settings())
    assert (await client.post(PATH, json=receipt())).status == 403


async def test_unknown_account_is_refused(make_client: MakeClient) -> None:
    """A receipt for another api-key is refused even when signed with our secret."""
    client = await make_client(vonage_settings())
    body = signed(receipt(**{"api-key": "someone-else"}))
    assert (await client.post(PATH, json=body)).status == 403


async def test_late_receipt_does_not_undo_a_final_status(make_client: MakeClient) -> None:
    """An "accepted" arriving after "delivered" leaves "delivered"."""
    client = await make_client(vonage_settings())
    await client.post(PATH, json=signed(receipt("delivered")))
    await client.post(PATH, json=signed(receipt("accepted")))
    assert ((await delivery_status(client.app[REDIS], "m1")) or {}).get("status") == "delivered"


async def test_bad_json_is_a_400(make_client: MakeClient) -> None:
    """A body that is not a JSON object is a 400 naming the body, not a 500."""
    client = await make_client(vonage_settings())
    response = await client.post(PATH, data=b"[1, 2", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "body" in await response.text()


async def test_no_endpoint_without_a_signature_secret(make_client: MakeClient) -> None:
    """Without a signature secret no receipt endpoint exists (unsigned receipts are not taken)."""
    client = await make_client(vonage_settings(secret=None))
    assert (await client.post(PATH, json=receipt())).status == 404
