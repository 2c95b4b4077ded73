"""The browser PIN step: `GET /pin` shows the form, `POST /pin` checks it and resumes the login.

Auth0's post-login Action sends the browser here with `session_token` and `state`. Success sends
it (303) to `https://<tenant>/continue?state=...&session_token=<answer>`; a lock or an expired
login shows the reason with a link that resumes the login with a denial the Action turns into
`api.access.deny`. No JavaScript; CSRF is a cookie nonce plus an HMAC'd form field bound to the
user and this login.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from gateway.clientip import client_ip
from gateway.pin.i18n import Translator, pick_language
from gateway.pin.service import AlreadyEnrolled, VerifyResult
from gateway.pin.stage import PIN_STEP, PinStep
from gateway.pin.tokens import RedirectTokens, Session, TokenError
from gateway.web import security_headers

COOKIE = "smsguard-pin"
SECURE_COOKIE = "__Host-smsguard-pin"


class Page:
    """One request's view of the step: language, tokens, cookie and rendering."""

    def __init__(self, request: web.Request, step: PinStep, params: Mapping[str, object]) -> None:
        if step.redirect is None:  # the routes exist only with pin.redirect_secret
            raise web.HTTPNotFound()
        self.request = request
        self.step = step
        self.tokens = step.redirect
        self.token = str(params.get("session_token", ""))
        self.state = str(params.get("state", ""))
        language = pick_language(
            str(params.get("ui_locales", "")) or None, request.headers.get("Accept-Language")
        )
        self.t = Translator(language)
        self.language = self.t.language
        self.cookie_name = SECURE_COOKIE if step.secure_cookie else COOKIE
        self.nonce = request.cookies.get(self.cookie_name) or RedirectTokens.new_nonce()

    def continue_url(self, sub: str, outcome: str) -> str:
        answer = self.tokens.answer(sub=sub, state=self.state, outcome=outcome)
        url = URL(self.step.continue_url).update_query(state=self.state, session_token=answer)
        return str(url)

    def csp(self) -> str:
        target = URL(self.step.continue_url)
        resume = f"{target.scheme}://{target.authority}"
        return (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action 'self' {resume}; frame-ancestors 'none'; base-uri 'none'"
        )

    def render(self, template: str, status: int, **context: object) -> web.Response:
        settings = self.step.settings
        css = self.request.app.router["static"].url_for(filename="pin-page.css")
        context.update(
            t=self.t,
            lang=self.language,
            css_url=str(css),
            session_token=self.token,
            state=self.state,
            min_length=settings.min_length,
            max_length=settings.max_length,
            digits_only=settings.digits_only,
            blocklist=settings.blocklist,
        )
        response = aiohttp_jinja2.render_template(
            f"pin/{template}", self.request, context, status=status
        )
        security_headers(response, csp=self.csp())
        return response

    def form(
        self,
        session: Session,
        mode: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
    ) -> web.Response:
        response = self.render(
            "form.html",
            status,
            mode=mode,
            error=error,
            csrf=self.tokens.csrf(self.nonce, session, self.state),
        )
        response.set_cookie(
            self.cookie_name,
            self.nonce,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.step.secure_cookie,
        )
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def message(self, kind: str, status: int, *, resume: str | None = None) -> web.Response:
        return self.render("message.html", status, kind=kind, resume=resume)

    def session(self) -> Session | web.Response:
        """The valid session, or the page to show instead (invalid link, expired login)."""
        if not self.state:
            return self.message("invalid", 400)
        try:
            return self.tokens.read_session(self.token)
        except TokenError as exc:
            if not exc.expired:
                return self.message("invalid", 400)
        expired = self.tokens.read_session(self.token, allow_expired=True)
        return self.message("expired", 401, resume=self.continue_url(expired.sub, "expired"))


async def get_pin(request: web.Request) -> web.Response:
    step = request.app[PIN_STEP]
    page = Page(request, step, request.query)
    session = page.session()
    if isinstance(session, web.Response):
        return session
    status = await step.service.store.status(session.sub)
    if status.locked:
        return page.message("locked", 423, resume=page.continue_url(session.sub, "locked"))
    return page.form(session, "verify" if status.enrolled else "enroll")


async def post_pin(request: web.Request) -> web.StreamResponse:
    step = request.app[PIN_STEP]
    form = await request.post()
    page = Page(request, step, form)
    session = page.session()
    if isinstance(session, web.Response):
        return session
    pin = str(form.get("pin", ""))
    mode = "enroll" if form.get("mode") == "enroll" else "verify"
    if not page.tokens.csrf_ok(
        request.cookies.get(page.cookie_name), str(form.get("csrf", "")), session, page.state
    ):
        page.nonce = RedirectTokens.new_nonce()
        return page.form(session, mode, status=403, error=page.t("err_csrf"))
    if not pin:
        return page.form(session, mode, status=422, error=page.t("err_required"))
    if mode == "enroll":
        return await _enroll(page, session, pin, str(form.get("confirm", "")))
    ip = client_ip(request, step.settings.trusted_proxy_hops)
    result = await step.service.verify(session.sub, pin, ip, phone=session.phone)
    return _after_verify(page, session, result)


async def _enroll(page: Page, session: Session, pin: str, confirm: str) -> web.StreamResponse:
    if pin != confirm:
        return page.form(session, "enroll", status=422, error=page.t("err_mismatch"))
    try:
        refusal = await page.step.service.enroll(session.sub, pin, phone=session.phone)
    except AlreadyEnrolled:
        return page.form(session, "verify", status=409)
    if refusal is not None:
        return page.form(
            session, "enroll", status=422, error=page.t(f"err_{refusal.code}", **refusal.args())
        )
    raise _resume(page.continue_url(session.sub, "enrolled"))


def _after_verify(page: Page, session: Session, result: VerifyResult) -> web.StreamResponse:
    t = page.t
    if result.outcome == "ok":
        raise _resume(page.continue_url(session.sub, "verified"))
    if result.outcome == "locked":
        return page.message("locked", 423, resume=page.continue_url(session.sub, "locked"))
    if result.outcome == "wrong":
        return page.form(
            session, "verify", status=422, error=t("err_wrong", remaining=result.remaining)
        )
    if result.outcome == "wait":
        return page.form(
            session,
            "verify",
            status=429,
            retry_after=result.wait_s,
            error=t("err_wait", seconds=result.wait_s),
        )
    return page.form(
        session, "verify", status=429, retry_after=result.wait_s or None, error=t("err_ip_limited")
    )


def _resume(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(
        location, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
