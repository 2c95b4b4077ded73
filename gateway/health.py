"""Liveness and readiness.

`/healthz` answers 200 while the process serves. `/readyz` runs every registered check (each stage
registers its own: Redis reachable, rules loaded, providers configured ...) and answers 503 when a
required one fails; warnings (for example a Redis that may lose PIN records) are shown, not fatal.

Anyone can call `/readyz`, so by default it answers only each check's status; the details
(exception text, rule-file errors, versions) go to the log when a check's status changes (and
when a failing check's detail changes), and are in the answer only with
`server.readyz_details: true`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.logs import get_logger

log = get_logger("gateway.health")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


Check = Callable[[], Awaitable[CheckResult]]


class Readiness:
    def __init__(self, *, details: bool = False) -> None:
        self._checks: dict[str, tuple[Check, bool]] = {}
        # Whether /readyz shows each check's detail to its (unauthenticated) caller.
        self.details = details
        self._last: dict[str, tuple[str, str]] = {}

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
            self._log_change(name, status, result.detail)
        return ready, report

    def _log_change(self, name: str, status: str, detail: str) -> None:
        """Log a check when its status changes, or its detail while it is not ok (probes come
        every few seconds: not a line each, and an ok check's counters change all the time)."""
        last = self._last.get(name)
        self._last[name] = (status, detail)
        if last is not None and last[0] == status and (status == "ok" or last[1] == detail):
            return
        emit = log.info if status == "ok" else log.warning
        emit("readiness check", check=name, status=status, detail=detail)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    from gateway.appkeys import READINESS

    readiness = request.app[READINESS]
    ready, report = await readiness.run()
    checks: dict[str, object] = dict(report)
    if not readiness.details:
        checks = {name: {"status": check["status"]} for name, check in report.items()}
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
