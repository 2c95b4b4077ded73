"""providers.setup(app): app[ROUTER], readiness, the sandbox endpoint and Twilio status callbacks.

A small app (`make_client`, tests/providers/conftest.py) holds only what setup() needs; the whole
gateway is assembled in app.py by the same calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from yarl import URL

from gateway.appkeys import CLOCK, METRICS, READINESS, REDIS, ROUTER
from gateway.errors import AllProvidersFailed
from gateway.models import OutboundSms
from gateway.providers import ProviderRouter, delivery_status
from gateway.providers.status import DELIVERY_TTL_S, delivery_key, twilio_signature
from gateway.settings import Settings
from tests.providers.conftest import Client, MakeClient
from tests.providers.fakes import TWILIO_SID, TWILIO_TOKEN

PUBLIC = "https://gw.example.com"
CALLBACK = f"{PUBLIC}/providers/twilio/status"


def sandbox_settings(**extra: Any) -> Settings:
    sandbox = {"name": "sandbox", "type": "sandbox", "keep": 3, "expose": True, **extra}
    return Settings.model_validate({"providers": [sandbox]})


def twilio_settings(public_url: str | None = PUBLIC) -> Settings:
    twilio = {
        "name": "twilio",
        "type": "twilio",
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "from": "+15005550006",
    }
    return Settings.model_validate({"providers": [twilio], "server": {"public_url": public_url}})


def sms(n: int, to: str = "+447700900123") -> OutboundSms:
    return OutboundSms(f"m{n}", to, f"Your code is {n:06d}", "GB")


async def test_setup_sets_the_router(make_client: MakeClient) -> None:
    """After startup app[ROUTER] is a ProviderRouter over the configured providers."""
    client = await make_client(sandbox_settings())
    router = client.app[ROUTER]
    assert isinstance(router, ProviderRouter)
    assert list(router.providers) == ["sandbox"]


async def test_sandbox_keeps_the_newest_messages_newest_first(make_client: MakeClient) -> None:
    """The sandbox keeps the last `keep` messages; GET /sandbox/messages lists newest first."""
    client = await make_client(sandbox_settings())
    clock = client.app[CLOCK]
    for n in range(5):
        await client.app[ROUTER].send(sms(n), clock.monotonic() + 5)
    answer = await (await client.get("/sandbox/messages")).json()
    assert [m["message_id"] for m in answer["messages"]] == ["m4", "m3", "m2"]
    assert answer["messages"][0]["body"] == "Your code is 000004"


async def test_sandbox_endpoint_filters_by_recipient(make_client: MakeClient) -> None:
    """?to= returns only the messages sent to that number (an unencoded '+' works too)."""
    client = await make_client(sandbox_settings())
    router, clock = client.app[ROUTER], client.app[CLOCK]
    await router.send(sms(1, "+447700900001"), clock.monotonic() + 5)
    await router.send(sms(2, "+447700900002"), clock.monotonic() + 5)
    answer = await (await client.get("/sandbox/messages?to=+447700900002")).json()
    assert [m["to"] for m in answer["messages"]] == ["+447700900002"]


async def test_sandbox_endpoint_is_absent_unless_exposed(make_client: MakeClient) -> None:
    """With expose: false there is no /sandbox/messages (404), though messages are still stored."""
    client = await make_client(sandbox_settings(expose=False))
    await client.app[ROUTER].send(sms(1), client.app[CLOCK].monotonic() + 5)
    assert (await client.get("/sandbox/messages")).status == 404


async def test_readiness_reports_the_providers(make_client: MakeClient) -> None:
    """The "providers" readiness check passes while some circuit is not open."""
    client = await make_client(sandbox_settings())
    _, report = await client.app[READINESS].run()
    assert report["providers"] == {"status": "ok", "detail": "sandbox: closed"}


async def test_readiness_fails_when_every_circuit_is_open(
    make_client: MakeClient, refused_url: str
) -> None:
    """With the only provider's circuit open, the gateway reports itself not ready."""
    twilio = {
        "name": "twilio",
        "type": "twilio",
        "account_sid": TWILIO_SID,
        "auth_token": "t",
        "from": "+15005550006",
        "base_url": refused_url,
        "max_attempts": 1,
        "breaker": {"failure_threshold": 1, "reset_after_s": 30},
    }
    client = await make_client(Settings.model_validate({"providers": [twilio]}))
    with pytest.raises(AllProvidersFailed):
        await client.app[ROUTER].send(sms(1), client.app[CLOCK].monotonic() + 5)
    ready, report = await client.app[READINESS].run()
    assert (ready, report["providers"]["status"]) == (False, "fail")


async def post_status(
    client: Client,
    form: dict[str, str],
    *,
    url: str = CALLBACK,
    query: str = "mid=m1",
    token: str = TWILIO_TOKEN,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientResponse:
    signature = twilio_signature(token, f"{url}?{query}", form.items())
    # The query goes out byte for byte as given (as Twilio sends the URL it was handed).
    base = str(client.make_url("/providers/twilio/status"))
    return await client.session.post(
        URL(f"{base}?{query}", encoded=True),
        data=form,
        headers={"X-Twilio-Signature": signature, **(headers or {})},
    )


def status_form(status: str) -> dict[str, str]:
    return {
        "AccountSid": TWILIO_SID,
        "MessageSid": "SM" + "1" * 32,
        "MessageStatus": status,
        "To": "+447700900123",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }


async def test_signed_status_callback_is_recorded(make_client: MakeClient) -> None:
    """A correctly signed callback stores the status against our message id, for 7 days."""
    client = await make_client(twilio_settings())
    response = await post_status(client, status_form("delivered"))
    redis = client.app[REDIS]
    status = await delivery_status(redis, "m1")
    assert response.status == 204
    assert status is not None
    assert (status["status"], status["provider"]) == ("delivered", "twilio")
    assert 0 < await redis.ttl(delivery_key("m1")) <= DELIVERY_TTL_S
    assert client.app[METRICS].delivery_status.labels("twilio", "delivered")._value.get() == 1


async def test_bad_signature_is_refused(make_client: MakeClient) -> None:
    """A callback signed with another token gets 403 and records nothing."""
    client = await make_client(twilio_settings())
    response = await post_status(client, status_form("delivered"), token="not-the-token")
    assert response.status == 403
    assert await delivery_status(client.app[REDIS], "m1") is None


async def test_signature_covers_the_message_id(make_client: MakeClient) -> None:
    """A valid signature replayed against another ?mid= is refused."""
    client = await make_client(twilio_settings())
    form = status_form("delivered")
    signature = twilio_signature(TWILIO_TOKEN, f"{CALLBACK}?mid=m1", form.items())
    response = await client.post(
        "/providers/twilio/status?mid=m2", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status == 403


async def test_late_status_does_not_overwrite_a_final_one(make_client: MakeClient) -> None:
    """A "sent" arriving after "delivered" leaves "delivered" in place."""
    client = await make_client(twilio_settings())
    await post_status(client, status_form("delivered"))
    await post_status(client, status_form("sent"))
    status = await delivery_status(client.app[REDIS], "m1")
    assert status is not None
    assert status["status"] == "delivered"


async def test_without_public_url_forwarded_headers_rebuild_the_url(
    make_client: MakeClient,
) -> None:
    """With no configured URL, X-Forwarded-Proto/Host give the URL the signature covers."""
    client = await make_client(twilio_settings(public_url=None))
    response = await post_status(
        client,
        status_form("failed"),
        url="https://edge.example.net/providers/twilio/status",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.net"},
    )
    assert response.status == 204


async def test_reserved_characters_in_the_message_id_verify(make_client: MakeClient) -> None:
    """The raw query is signed: ?mid=req%3A42 (as Twilio got it) verifies and files req:42."""
    client = await make_client(twilio_settings())
    response = await post_status(client, status_form("delivered"), query="mid=req%3A42")
    status = await delivery_status(client.app[REDIS], "req:42")
    assert response.status == 204
    assert (status or {}).get("status") == "delivered"


async def test_non_ascii_signature_is_refused(make_client: MakeClient) -> None:
    """A signature header with non-ASCII characters is a bad signature (403), not an error."""
    client = await make_client(twilio_settings())
    response = await client.post(
        "/providers/twilio/status?mid=m1",
        data=status_form("delivered"),
        headers={"X-Twilio-Signature": "é☃" + "A" * 26},
    )
    assert response.status == 403


async def test_racing_callbacks_never_undo_a_final_status(make_client: MakeClient) -> None:
    """ "delivered" and a late "sent" arriving together always leave "delivered" stored."""
    client = await make_client(twilio_settings())
    mids = [f"race{n}" for n in range(20)]
    await asyncio.gather(
        *(
            post_status(client, status_form(status), query=f"mid={mid}")
            for mid in mids
            for status in ("delivered", "sent")
        )
    )
    stored = [await delivery_status(client.app[REDIS], mid) for mid in mids]
    assert [s and s["status"] for s in stored] == ["delivered"] * len(mids)


async def test_providers_sharing_an_account_accept_either_token(make_client: MakeClient) -> None:
    """Two providers on one account SID: a callback signed with either token is accepted."""
    common = {"type": "twilio", "account_sid": TWILIO_SID, "from": "+15005550006"}
    settings = Settings.model_validate(
        {
            "providers": [
                {"name": "twilio-a", "auth_token": TWILIO_TOKEN, **common},
                {"name": "twilio-b", "auth_token": "second-token-for-tests", **common},
            ],
            "server": {"public_url": PUBLIC},
        }
    )
    client = await make_client(settings)
    first = await post_status(client, status_form("sent"), query="mid=m1")
    second = await post_status(
        client, status_form("sent"), query="mid=m2", token="second-token-for-tests"
    )
    redis = client.app[REDIS]
    filed = [(await delivery_status(redis, mid) or {}).get("provider") for mid in ("m1", "m2")]
    assert (first.status, second.status, filed) == (204, 204, ["twilio-a", "twilio-b"])
