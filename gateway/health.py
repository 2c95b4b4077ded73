"""Liveness and readiness.

`/healthz` answers 200 while the process serves. `/readyz` runs every registered check (each stage
registers its own: Redis reachable, rules loaded, providers configured ...) and answers 503 when a
required one fails; warnings (for example a Redis that may lose PIN records) are shown, not fatal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


Check = Callable[[], Awaitable[CheckResult]]


class Readiness:
    def __init__(self) -> None:
        self._checks: dict[str, tuple[Check, bool]] = {}

    def add(self, name: str, check: Check, *, required: bool = True) -> None:
        """Register a check; a failing non-required check is reported as a warning."""
        self._checks[name] = (check, required)

    async def run(self, per_check_s: float = 2.0) -> tuple[bool, dict[str, dict[str, object]]]:
        names = list(self._checks)

        async def one(name: str) -> CheckResult:
            check, _ = self._checks[name]
            try:
                async with asyncio.timeout(per_check_s):
                    return await check()
            except TimeoutError:
                return CheckResult(False, f"timed out after {per_check_s}s")
            except Exception as exc:  # a check must never break /readyz itself
                return CheckResult(False, f"{type(exc).__name__}: {exc}")

        results = await asyncio.gather(*(one(n) for n in names))
        report: dict[str, dict[str, object]] = {}
        ready = True
        for name, result in zip(names, results, strict=True):
            required = self._checks[name][1]
            if required and not result.ok:
                ready = False
            status = "ok" if result.ok else ("fail" if required else "warn")
            report[name] = {"status": status, "detail": result.detail}
        return ready, report


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    from gateway.appkeys import READINESS

    ready, report = await request.app[READINESS].run()
    return web.json_response({"ready": ready, "checks": report}, status=200 if ready else 503)
