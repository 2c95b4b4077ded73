"""The JSON API for native apps with embedded login.

Every call carries `Authorization: Bearer <Auth0 access token>` for `pin.api_audience`:

    GET  /v1/pin          {"enrolled": bool, "locked": bool}
    POST /v1/pin          {"pin": "...", "old_pin": "..."}   enroll, or change (old PIN required)
    POST /v1/pin/verify   {"pin": "..."}  -> {"step_up_token", "token_type", "expires_in"}
    GET  /.well-known/jwks.json            public keys of the step-up tokens

Errors are `{"error": message, "field": name, "code": code}`; the field names the culprit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.clientip import client_ip
from gateway.errors import AuthError, IntakeError, SmsGuardError
from gateway.jsontypes import JSON, JSONObject
from gateway.pin.i18n import Translator, pick_language
from gateway.pin.policy import Refusal
from gateway.pin.service import AlreadyEnrolled, VerifyResult
from gateway.pin.stage import PIN_STEP, PinStep
from gateway.web import one_header, read_body

Handler = Callable[[web.Request], Awaitable[web.Response]]

_STATUS = {"wrong": 403, "locked": 423, "wait": 429, "ip_limited": 429}


def _error(status: int, message: str, field: str | None, code: str, **extra: JSON) -> web.Response:
    body: JSONObject = {"error": message, "code": code}
    if field:
        body["field"] = field
    body.update(extra)
    response = web.json_response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _caller(request: web.Request, step: PinStep) -> str:
    if step.verifier is None:  # routes exist only when the API is configured
        raise web.HTTPNotFound()
    claims = await step.verifier.verify(one_header(request, "Authorization"))
    return str(claims["sub"])


async def _body(request: web.Request, fields: tuple[str, ...]) -> dict[str, str]:
    try:
        data = json.loads(await read_body(request))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, an integer of 4,300+ digits ...
        raise _Bad("the body must be JSON", "body", "bad_json") from None
    if not isinstance(data, dict):
        raise _Bad("the body must be a JSON object", None, "bad_json")
    out: dict[str, str] = {}
    for name in fields:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _Bad(f"{name} must be a string", name, "bad_type")
        if not value.isascii() and not _encodable(value):
            raise _Bad(f"{name} holds a lone UTF-16 surrogate: not text", name, "bad_type")
        out[name] = value
    return out


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class _Bad(SmsGuardError):
    def __init__(self, message: str, field: str | None, code: str) -> None:
        super().__init__(message)
        self.message, self.field, self.code = message, field, code


def _translator(request: web.Request) -> Translator:
    return Translator(pick_language(None, request.headers.get("Accept-Language")))


def _failure(t: Translator, result: VerifyResult, field: str) -> web.Response:
    if result.outcome == "wrong":
        return _error(
            403,
            t("err_wrong", remaining=result.remaining),
            field,
            "wrong",
            remaining=result.remaining,
            retry_after=result.wait_s,
        )
    if result.outcome == "locked":
        return _error(423, t("locked_body"), field, "locked")
    response = _error(
        429,
        t("err_wait", seconds=result.wait_s) if result.outcome == "wait" else t("err_ip_limited"),
        field,
        result.outcome,
        retry_after=result.wait_s,
    )
    if result.wait_s:
        response.headers["Retry-After"] = str(result.wait_s)
    return response


def _refused(t: Translator, refusal: Refusal, field: str) -> web.Response:
    return _error(422, t(f"err_{refusal.code}", **refusal.args()), field, refusal.code)


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            response: web.Response = await handler(request)
        except AuthError as exc:
            response = _error(401, exc.message, exc.field, "unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        except IntakeError as exc:  # a header sent twice, a body that cannot be read
            response = _error(exc.status, exc.message, exc.field, "bad_request")
        except _Bad as exc:
            response = _error(400, exc.message, exc.field, exc.code)
        return response

    wrapped.__doc__ = handler.__doc__
    return wrapped


@_guard
async def get_status(request: web.Request) -> web.Response:
    """Whether the caller has a PIN and whether it is locked."""
    step = request.app[PIN_STEP]
    sub = await _caller(request, step)
    status = await step.service.store.status(sub)
    return web.json_response(
        {"enrolled": status.enrolled, "locked": status.locked},
        headers={"Cache-Control": "no-store"},
    )


@_guard
async def post_pin(request: web.Request) -> web.Response:
    """Enroll a first PIN, or change it (the old PIN is verified under the attempt limits)."""
    step = request.app[PIN_STEP]
    sub = await _caller(request, step)
    body = await _body(request, ("pin", "old_pin"))
    t = _translator(request)
    pin = body.get("pin", "")
    if not pin:
        return _error(400, t("err_required"), "pin", "required")
    service = step.service
    if not await service.store.has_pin(sub):
        try:
            refusal = await service.enroll(sub, pin)
        except AlreadyEnrolled:
            return _error(409, "a PIN exists: send old_pin to change it", "old_pin", "enrolled")
        if refusal is not None:
            return _refused(t, refusal, "pin")
        return web.json_response({"enrolled": True}, status=201)
    old = body.get("old_pin", "")
    if not old:
        return _error(400, "old_pin is required to change the PIN", "old_pin", "required")
    result = await service.change(
        sub, old, pin, client_ip(request, step.settings.trusted_proxy_hops)
    )
    if isinstance(result, Refusal):
        return _refused(t, result, "pin")
    if not result.ok:
        return _failure(t, result, "old_pin")
    return web.json_response({"changed": True})


@_guard
async def post_verify(request: web.Request) -> web.Response:
    """Verify the PIN; answer with a short-lived step-up token signed by the gateway."""
    step = request.app[PIN_STEP]
    sub = await _caller(request, step)
    body = await _body(request, ("pin",))
    t = _translator(request)
    pin = body.get("pin", "")
    if not pin:
        return _error(400, t("err_required"), "pin", "required")
    ip = client_ip(request, step.settings.trusted_proxy_hops)
    result = await step.service.verify(sub, pin, ip)
    if not result.ok:
        return _failure(t, result, "pin")
    if step.signer is None:
        raise web.HTTPNotFound()
    return web.json_response(
        {
            "step_up_token": step.signer.sign(sub),
            "token_type": "Bearer",
            "expires_in": step.signer.ttl_s,
        },
        headers={"Cache-Control": "no-store"},
    )


async def get_jwks(request: web.Request) -> web.Response:
    """Public keys of the step-up tokens (every configured key, for rotation)."""
    signer = request.app[PIN_STEP].signer
    if signer is None:
        raise web.HTTPNotFound()
    return web.json_response(signer.jwks(), headers={"Cache-Control": "public, max-age=300"})
