"""Hypothesis strategies for requests to POST /sms: both Auth0 payload shapes, then mutated bodies,
headers and encodings. A drawn `Spec` renders to (headers, body bytes) and remembers the secrets
it carries (token, one-time code, full number) so a test can look for them in the log.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.auth0 import SECRET, action_payload, gateway_token, legacy_payload, unsigned_token

# Real mobile numbers of several countries (the full number must never reach the log).
NUMBERS = [
    "+447400123456",
    "+447700900123",
    "+14155550123",
    "+33612345678",
    "+4915123456789",
    "+919876543210",
    "+5511987654321",
    "+2348031234567",
    "+61412345678",
    "+998901234567",
]

# Ways to break a body; each takes the payload (a dict) and a random text, returns the new value.
MUTATIONS = [
    "drop_recipient",
    "drop_body",
    "recipient_type",
    "recipient_junk",
    "body_type",
    "req_type",
    "ip_junk",
    "geoip_type",
    "surrogate_body",
    "surrogate_ua",
    "surrogate_key",
    "huge_int",
    "deep_nesting",
    "nan",
    "voice",
    "extra_keys",
    "not_object",
    "truncate",
    "bad_utf8",
    "bom",
    "duplicate_keys",
    "empty",
    "random_bytes",
    "long_body",
]
AUTH = [
    *["valid"] * 8,
    "missing",
    "expired",
    "no_exp",
    "crit",
    "alg_none",
    "garbage",
    "two_headers",
    "basic",
    "wrong_secret",
]
CONTENT_TYPES = [
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.auth0+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
]
ENCODINGS = ["", "", "", "gzip", "deflate", "gzip-lie", "deflate-lie", "identity", "compress"]
REQUEST_IDS = ["", "", "corr-42", "same", "with space", "x" * 200, "ok.id:1/2+3=="]


@dataclass
class Spec:
    """One fuzzed request and the secrets it carries."""

    shape: str
    number: str
    code: str
    auth: str
    mutations: list[str]
    content_type: str
    encoding: str
    request_id: str
    junk: str
    seed: int
    token: str = field(default="", repr=False)

    def render(self) -> tuple[list[tuple[str, str]], bytes]:
        payload: Any = (
            legacy_payload(self.number) if self.shape == "legacy" else action_payload(self.number)
        )
        payload["body"] = f"Your verification code is: {self.code}"
        raw: bytes | None = None
        for mutation in self.mutations:
            payload, raw = _mutate(mutation, payload, raw, self.junk, self.seed)
        body = raw if raw is not None else json.dumps(payload).encode()
        headers: list[tuple[str, str]] = []
        self.token = gateway_token()
        headers.extend(_auth(self.auth, self.token))
        if self.content_type:
            headers.append(("Content-Type", self.content_type))
        if self.request_id:
            headers.append(("X-Request-Id", self.request_id))
        body = _encode(self.encoding, body, headers)
        return headers, body


def _auth(kind: str, token: str) -> list[tuple[str, str]]:
    if kind == "valid":
        return [("Authorization", f"Bearer {token}")]
    if kind == "missing":
        return []
    if kind == "expired":
        return [("Authorization", f"Bearer {gateway_token(ttl=-3600)}")]
    if kind == "no_exp":
        return [("Authorization", f"Bearer {gateway_token(ttl=None)}")]
    if kind == "crit":
        import jwt

        claims = {"sub": "urn:Auth0", "aud": "urn:MySmsGateway", "exp": 4_000_000_000}
        crit = jwt.encode(claims, SECRET, algorithm="HS256", headers={"crit": ["x"], "x": 1})
        return [("Authorization", f"Bearer {crit}")]
    if kind == "alg_none":
        return [("Authorization", f"Bearer {unsigned_token()}")]
    if kind == "garbage":
        return [("Authorization", "Bearer a.b.c")]
    if kind == "two_headers":
        return [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer x.y.z")]
    if kind == "basic":
        return [("Authorization", "Basic " + base64.b64encode(b"user:pass").decode())]
    other = gateway_token("another-secret-of-some-length-0123456789")
    return [("Authorization", f"Bearer {other}")]


def _encode(kind: str, body: bytes, headers: list[tuple[str, str]]) -> bytes:
    if not kind:
        return body
    name = kind.removesuffix("-lie")
    headers.append(("Content-Encoding", name))
    if kind == "gzip":
        return gzip.compress(body)
    if kind == "deflate":
        return zlib.compress(body)
    return body  # a lie (not compressed), identity, or a coding the gateway cannot decode


def _mutate(
    kind: str, payload: Any, raw: bytes | None, junk: str, seed: int
) -> tuple[Any, bytes | None]:
    if raw is not None or not isinstance(payload, dict):
        return payload, raw  # already past JSON: later mutations have nothing to work on
    req = payload.get("req") if isinstance(payload.get("req"), dict) else {}
    if kind == "drop_recipient":
        payload.pop("recipient", None)
    elif kind == "drop_body":
        payload.pop("body", None)
    elif kind == "recipient_type":
        payload["recipient"] = [None, 447400123456, {"n": 1}, ["+44"], True, 1.5][seed % 6]
    elif kind == "recipient_junk":
        payload["recipient"] = junk
    elif kind == "body_type":
        payload["body"] = [None, 123456, {"text": "x"}, [], False][seed % 5]
    elif kind == "req_type":
        payload["req"] = ["x", 1, [], None][seed % 4]
    elif kind == "ip_junk":
        req["ip"] = junk
    elif kind == "geoip_type":
        req["geoip"] = [junk, 1, ["GB"], {"countryCode": 44}][seed % 4]
    elif kind == "surrogate_body":
        payload["body"] = f"{payload.get('body')}\ud800"
    elif kind == "surrogate_ua":
        req["user_agent" if "user_agent" in req else "user-agent"] = "Mozilla \udc00" + junk
    elif kind == "surrogate_key":
        req["\ud83d"] = "x"
    elif kind == "huge_int":
        return payload, json.dumps(payload).encode()[:-1] + b', "n": ' + b"9" * 5000 + b"}"
    elif kind == "deep_nesting":
        return payload, b'{"recipient": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    elif kind == "nan":
        return payload, json.dumps(payload).encode()[:-1] + b', "x": NaN, "y": -Infinity}'
    elif kind == "voice":
        payload["delivery_method"] = "voice"
    elif kind == "extra_keys":
        payload[junk or "k"] = {"nested": [junk, seed, None, 1e308]}
    elif kind == "not_object":
        return [payload, junk][seed % 2], None
    elif kind == "truncate":
        text = json.dumps(payload).encode()
        return payload, text[: seed % max(len(text), 1)]
    elif kind == "bad_utf8":
        return payload, json.dumps(payload).encode()[:-1] + b', "x": "\xff\xfe"}'
    elif kind == "bom":
        return payload, b"\xef\xbb\xbf" + json.dumps(payload).encode()
    elif kind == "duplicate_keys":
        return payload, json.dumps(payload).encode()[:-1] + b', "recipient": "' + b"x" * 3 + b'"}'
    elif kind == "empty":
        return payload, b""
    elif kind == "random_bytes":
        return payload, junk.encode("utf-8", "surrogatepass")
    elif kind == "long_body":
        payload["body"] = f"{payload.get('body')}{junk * 40}"
    if isinstance(payload.get("req"), dict) or kind in ("ip_junk", "geoip_type"):
        payload["req"] = req if isinstance(payload.get("req"), dict) else payload.get("req")
    return payload, None


specs = st.builds(
    Spec,
    shape=st.sampled_from(["legacy", "action"]),
    number=st.sampled_from(NUMBERS),
    code=st.integers(100_000, 999_999).map(str),
    auth=st.sampled_from(AUTH),
    mutations=st.lists(st.sampled_from(MUTATIONS), max_size=2),
    content_type=st.sampled_from(CONTENT_TYPES),
    encoding=st.sampled_from(ENCODINGS),
    request_id=st.sampled_from(REQUEST_IDS),
    junk=st.text(max_size=12),
    seed=st.integers(0, 2**16),
)
