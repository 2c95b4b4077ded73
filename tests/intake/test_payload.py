"""Intake: both Auth0 payload shapes parse; every refusal names its field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.errors import IntakeError
from gateway.intake import PayloadParser
from gateway.settings import IntakeSettings
from tests.auth0 import action_payload, legacy_payload


def parse(data: Any, **settings: Any) -> Any:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return PayloadParser(IntakeSettings(**settings)).parse(raw, request_id="r1", received_at=1.0)


def test_legacy_shape_normalised() -> None:
    """The legacy sms_gateway body parses; spaces in the number are normalised to E.164."""
    sms = parse(legacy_payload("+44 7400 123456", **{"x-request-language": "fr"}))
    assert sms.shape == "sms_gateway"
    assert sms.recipient == "+447400123456"
    assert sms.ip == "203.0.113.7"
    assert sms.user_agent.startswith("Mozilla")
    assert sms.language == "fr"


def test_action_shape() -> None:
    """The custom-phone-provider shape keeps user_agent, geoip and the optional extras."""
    sms = parse(action_payload())
    assert sms.shape == "phone_provider"
    assert sms.user_agent.endswith("Safari/605.1.15")
    assert sms.auth0_geoip == {
        "countryCode": "GB",
        "countryCode3": "GBR",
        "countryName": "United Kingdom",
    }
    assert (sms.message_type, sms.locale, sms.client_id, sms.correlation_id) == (
        "otp_verify",
        "en",
        "abc123",
        "corr-1",
    )
    assert sms.ip == "2001:db8::1"


def test_auth0_documentation_example() -> None:
    """Auth0's own documented example ("+1 399 999") is accepted, not rejected."""
    sms = parse(
        {
            "recipient": "+1 399 999",
            "body": "Your verification code is: 12345",
            "sender": "+1 234 567",
            "req": {"ip": "167.56.227.117", "user-agent": "x"},
        }
    )
    assert sms.recipient == "+1399999"


def test_req_is_optional() -> None:
    """Without forward_req_info there is no req: the message is still accepted."""
    sms = parse({"recipient": "+447400123456", "body": "code 1"})
    assert sms.ip is None
    assert sms.user_agent is None


def test_double_zero_prefix() -> None:
    """00-prefixed international numbers are read as +."""
    assert parse({"recipient": "0044 7400 123456", "body": "x"}).recipient == "+447400123456"


def test_national_number_needs_default_region() -> None:
    """A national-format number is refused unless a default region is configured."""
    with pytest.raises(IntakeError) as err:
        parse({"recipient": "07400 123456", "body": "x"})
    assert err.value.field == "recipient"
    assert (
        parse({"recipient": "07400 123456", "body": "x"}, default_region="GB").recipient
        == "+447400123456"
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        ({"body": "x"}, "recipient"),
        ({"recipient": "+447400123456"}, "body"),
        ({"recipient": "", "body": "x"}, "recipient"),
        ({"recipient": 447400123456, "body": "x"}, "recipient"),
        ({"recipient": "+44abc", "body": "x"}, "recipient"),
        ({"recipient": "+447400123456", "body": "x", "req": "ip"}, "req"),
        ({"recipient": "+447400123456", "body": "x", "req": {"ip": "999.1.1.1"}}, "req.ip"),
        ({"recipient": "+447400123456", "body": "x", "req": {"user-agent": 5}}, "req.user-agent"),
        ({"recipient": "+447400123456", "body": "x", "req": {"geoip": "GB"}}, "req.geoip"),
        (
            {"recipient": "+447400123456", "body": "x", "delivery_method": "voice"},
            "delivery_method",
        ),
    ],
)
def test_refusals_name_the_field(data: Any, field: str) -> None:
    """Malformed JSON, missing fields and unparseable values are 400s naming the field."""
    with pytest.raises(IntakeError) as err:
        parse(data)
    assert err.value.status == 400
    assert err.value.field == field


def test_json_error_says_where() -> None:
    """A JSON syntax error reports its line and column."""
    with pytest.raises(IntakeError, match="line 1 column 2"):
        parse(b"{oops}")


def test_unicode_spaces_and_dashes_normalised() -> None:
    """Numbers pasted with thin spaces, zero-width spaces or typographic dashes still parse."""
    raw = "+44\u20097400\u200b123\u2013456"
    assert parse({"recipient": raw, "body": "x"}).recipient == "+447400123456"


def test_overlong_recipient_refused_before_parsing() -> None:
    """A recipient far longer than any phone number is refused without being parsed or cached."""
    with pytest.raises(IntakeError, match="longer than 40") as err:
        parse({"recipient": "+44" + "1" * 5000, "body": "x"})
    assert err.value.field == "recipient"


def test_deeply_nested_body_is_400() -> None:
    """A body nested deeper than the JSON parser allows is a 400, not a server error."""
    with pytest.raises(IntakeError, match="nested too deeply"):
        parse(b"[" * 100_000 + b"]" * 100_000)


def test_default_region_must_exist() -> None:
    """An unknown default region is a settings error, not a 400 on every national number."""
    with pytest.raises(ValueError, match="not a region"):
        IntakeSettings(default_region="UK")


def test_integer_of_over_4300_digits_is_400() -> None:
    """A JSON integer longer than Python converts (ValueError, not a JSONDecodeError) is a 400."""
    with pytest.raises(IntakeError) as caught:
        parse(b'{"recipient": "+447400123456", "n": ' + b"9" * 5000 + b"}")
    assert (caught.value.status, caught.value.field) == (400, "body")
    assert "4300 digits" in caught.value.message


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"body": "code \ud800 123456"}, "body"),
        ({"sender": "\udfff"}, "sender"),
        ({"req": {"ip": "203.0.113.7", "user-agent": "Mozilla \udc80"}}, "req.user-agent"),
        ({"req": {"geoip": {"cityName": "\ud83d"}}}, "req.geoip.cityName"),
    ],
)
def test_lone_surrogate_is_400_naming_the_field(where: dict[str, Any], field: str) -> None:
    """A lone surrogate escape (valid JSON, not encodable text) is refused where it is."""
    with pytest.raises(IntakeError) as caught:
        parse({**legacy_payload(), **where})
    assert (caught.value.status, caught.value.field) == (400, field)
    assert "surrogate" in caught.value.message


def test_escaped_surrogate_pair_is_text() -> None:
    """A surrogate pair escape (an emoji, as JSON.stringify may write it) is one character."""
    raw = json.dumps({**legacy_payload(), "body": "code \U0001f600 123456"}).encode()
    assert b"\\ud83d\\ude00" in raw
    assert parse(raw).body == "code \U0001f600 123456"
