"""setup(app): the PIN step built at start-up (app[PIN_STEP]), its routes and storage check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from gateway.appkeys import CLOCK, FEEDBACK, HTTP, METRICS, READINESS, REDIS, SETTINGS
from gateway.appkeys import PIN_STEP as PIN_STEP  # re-exported: the PIN handlers use it
from gateway.errors import ConfigError, Location, Problem
from gateway.health import CheckResult
from gateway.logs import get_logger
from gateway.pin.hashing import OWASP_FLOORS, PinHasher, below_owasp_floor
from gateway.pin.policy import PinPolicy, load_blocklist
from gateway.pin.service import PinService
from gateway.pin.storage import StorageReport, check_storage
from gateway.pin.store import PinStore
from gateway.pin.tokens import AccessTokenVerifier, RedirectTokens, SigningKey, StepUpSigner
from gateway.redisclient import build_redis, pin_connection
from gateway.redislayout import migrate_legacy_keys
from gateway.settings import PinSettings, Settings
from gateway.web import setup_static, setup_templates

log = get_logger("gateway.pin")


@dataclass
class PinStep:
    """Everything the PIN handlers use, built once at start-up."""

    settings: PinSettings
    tenant_domain: str
    continue_url: str
    service: PinService
    redirect: RedirectTokens | None
    signer: StepUpSigner | None
    verifier: AccessTokenVerifier | None
    secure_cookie: bool
    storage: StorageReport | None = None


def tenant_of(settings: Settings) -> str | None:
    return settings.pin.tenant_domain or settings.auth0.tenant_domain


def signing_keys(settings: PinSettings, source: str) -> list[SigningKey]:
    """Parse the step-up signing keys; a bad PEM is a configuration error naming the key."""
    keys, problems = [], []
    for index, entry in enumerate(settings.signing_keys):
        try:
            keys.append(SigningKey.from_pem(entry.kid, entry.private_key.get_secret_value()))
        except ValueError as exc:
            message = str(exc) if "signing key" in str(exc) else "not a PEM private key"
            problems.append(
                Problem(Location(source), f"pin.signing_keys.{index}.private_key: {message}")
            )
    if problems:
        raise ConfigError(problems)
    return keys


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    pin = settings.pin
    if not pin.enabled:
        log.info(
            "pin step off", hint="set pin.enabled: true and its keys to serve /pin and /v1/pin"
        )
        return
    tenant = tenant_of(settings)
    if not tenant:
        raise ConfigError(
            [
                Problem(
                    Location(settings.source),
                    "pin.tenant_domain: required when pin.enabled (or set auth0.tenant_domain)",
                )
            ]
        )
    keys = signing_keys(pin, settings.source)
    if below_owasp_floor(pin.argon2_memory_kib, pin.argon2_time_cost):
        log.warning(
            "pin argon2 parameters below the OWASP floor",
            memory_kib=pin.argon2_memory_kib,
            time_cost=pin.argon2_time_cost,
            floors=", ".join(f"m={m} KiB t={t}" for m, t in OWASP_FLOORS),
            hint="raise pin.argon2_memory_kib / argon2_time_cost; hashes upgrade on next success",
        )

    from gateway.pin import api, pages

    setup_templates(app)
    setup_static(app)
    if pin.redirect_secret is not None:
        app.router.add_get("/pin", pages.get_pin)
        app.router.add_post("/pin", pages.post_pin)
    if pin.api_audience is not None:
        app.router.add_get("/v1/pin", api.get_status)
        app.router.add_post("/v1/pin", api.post_pin)
        app.router.add_post("/v1/pin/verify", api.post_verify)
        app.router.add_get("/.well-known/jwks.json", api.get_jwks)

    async def pin_context(app: web.Application) -> AsyncIterator[None]:
        own_redis: Redis | None = None
        if (own := pin_connection(pin)) is not None:
            own_redis = build_redis(own)
            await migrate_legacy_keys(own_redis)
        redis = own_redis or app[REDIS]
        hasher = PinHasher(
            memory_kib=pin.argon2_memory_kib,
            time_cost=pin.argon2_time_cost,
            parallelism=pin.argon2_parallelism,
            concurrency=pin.verify_concurrency,
            pepper=pin.pepper.get_secret_value().encode() if pin.pepper else None,
        )
        clock = app[CLOCK]
        service = PinService(
            store=PinStore(
                redis,
                max_failures=pin.max_failures,
                delay_base_s=pin.delay_base_s,
                delay_max_s=pin.delay_max_s,
                ip_max_failures=pin.ip_max_failures,
                ip_window_s=pin.ip_window_s,
            ),
            hasher=hasher,
            policy=PinPolicy(
                min_length=pin.min_length,
                max_length=pin.max_length,
                digits_only=pin.digits_only,
                use_blocklist=pin.blocklist,
                blocklist=load_blocklist(pin.blocklist_file) if pin.blocklist else frozenset(),
            ),
            clock=clock,
            metrics=app[METRICS],
            feedback=app.get(FEEDBACK),
        )
        public_url = (settings.server.public_url or "").rstrip("/")
        step = PinStep(
            settings=pin,
            tenant_domain=tenant,
            continue_url=pin.continue_url or f"https://{_bare(tenant)}/continue",
            service=service,
            redirect=RedirectTokens(
                pin.redirect_secret.get_secret_value().encode(),
                tenant_domain=tenant,
                clock=clock,
                leeway_s=settings.auth0.leeway_s,
                answer_ttl_s=pin.answer_ttl_s,
            )
            if pin.redirect_secret
            else None,
            signer=StepUpSigner(
                keys,
                issuer=public_url or "urn:smsguard",
                audience=pin.step_up_audience or f"{pin.api_audience}#step-up",
                ttl_s=pin.step_up_ttl_s,
                clock=clock,
            )
            if pin.api_audience
            else None,
            verifier=AccessTokenVerifier(
                http=app[HTTP],
                jwks_url=pin.jwks_url or f"https://{_bare(tenant)}/.well-known/jwks.json",
                issuer=f"https://{_bare(tenant)}/",
                audience=pin.api_audience,
                clock=clock,
                min_refetch_s=pin.jwks_min_refetch_s,
                leeway_s=settings.auth0.leeway_s,
            )
            if pin.api_audience
            else None,
            secure_cookie=public_url.startswith("https://"),
        )
        app[PIN_STEP] = step
        await _report_storage(app, step, redis)

        async def pin_storage() -> CheckResult:
            step.storage = await check_storage(redis)
            _publish(app, step.storage)
            return CheckResult(step.storage.safe, step.storage.detail())

        app[READINESS].add("pin-storage", pin_storage, required=False)
        await hasher.warm_up()
        log.info(
            "pin step on",
            browser=pin.redirect_secret is not None,
            api=pin.api_audience is not None,
            tenant=tenant,
        )
        try:
            yield
        finally:
            hasher.close()
            if own_redis is not None:
                await own_redis.aclose()

    app.cleanup_ctx.append(pin_context)


async def _report_storage(app: web.Application, step: PinStep, redis: Redis) -> None:
    try:
        step.storage = await check_storage(redis)
    except Exception as exc:  # Redis down at start: readiness reports it; do not refuse to start
        log.warning("pin storage check failed", error=f"{type(exc).__name__}: {exc}")
        app[METRICS].storage_warnings.labels(store="pin").set(1)
        return
    _publish(app, step.storage)
    if not step.storage.safe:
        log.warning(
            "pin storage unsafe",
            detail=step.storage.detail(),
            persistence=step.storage.persistence,
            eviction=step.storage.eviction,
        )


def _publish(app: web.Application, report: StorageReport) -> None:
    app[METRICS].storage_warnings.labels(store="pin").set(0 if report.safe else 1)


def _bare(domain: str) -> str:
    return domain.strip().removeprefix("https://").rstrip("/")
