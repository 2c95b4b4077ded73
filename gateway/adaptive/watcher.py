"""Automatic temporary blocks of destinations whose codes stopped being used.

Every `interval_s`, for each `auto_blocks:` entry of the loaded rules, the watcher reads the
conversion of the destinations this instance sent codes to recently (`Candidates`, fed by the
decisions) through a `FiguresSource`, and blocks each one whose conversion collapsed: an override
(kind `prefix` for a range, `country`) with an expiry and a reason with the figures
("+998 9141: 212 codes, 0 logins in 1h; baseline 61%"), author `smsguard:auto-block`. Each block
is counted (`smsguard_auto_blocks_total{rule,mode}`), logged, alerted (one incident per target,
cleared when the block is lifted or expires) and, like every override, audited and shown on the
dashboard, where one click lifts it or sets it again with a later expiry (both audited).
In shadow mode only the count, the log line and an audit note ("would have auto-blocked") are
written.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from gateway.adaptive.figures import Figures, FiguresSource
from gateway.alerts.model import Alert, AlertSink, Severity
from gateway.clock import Clock
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.overrides import OverrideError, Overrides
from gateway.policy.autoblockspec import AutoBlock
from gateway.policy.statereads import DIMENSION_VALUES
from gateway.signals import Signals

log = get_logger("gateway.adaptive")

AUTHOR = "smsguard:auto-block"
MAX_CANDIDATES = 2_000  # destinations remembered per interval (the busiest are judged)
JUDGED = 200  # destinations read per entry and interval


class Candidates:
    """Destinations this instance sent codes to since the last look (bounded, busiest kept)."""

    def __init__(self) -> None:
        self._seen: dict[str, Counter[tuple[str, str]]] = {"cc": Counter(), "r4": Counter()}
        self._seen["r6"] = Counter()

    def add(self, s: Signals) -> None:
        country = s.phone_country
        if not country:
            return
        for dim, seen in self._seen.items():
            value = DIMENSION_VALUES[dim](s)
            if value is not None and (len(seen) < MAX_CANDIDATES or (value, country) in seen):
                seen[(value, country)] += 1

    def take(self, dimension: str) -> list[tuple[str, str]]:
        """The busiest (value, country) pairs seen, forgotten once taken."""
        seen = self._seen[dimension]
        busiest = [pair for pair, _ in seen.most_common(JUDGED)]
        seen.clear()
        return busiest


def reason(f: Figures) -> str:
    """ "+998 9141: 212 codes, 0 logins in 1h; baseline 61%"."""
    baseline = "no baseline" if f.baseline is None else f"baseline {f.baseline:.0%}"
    return f"{f.shown}: {f.sent} codes, {f.completed} logins in {f.window}; {baseline}"


def collapsed(entry: AutoBlock, f: Figures) -> bool:
    conv = f.conversion
    if f.sent < entry.min_sent or conv is None or conv >= entry.max_conversion:
        return False
    if entry.below_baseline is None:
        return True
    ratio = f.vs_baseline
    return ratio is None or ratio < entry.below_baseline


def target(f: Figures) -> tuple[str, str]:
    """The override (kind, value) blocking a destination: a number prefix or a country."""
    if f.dimension == "cc":
        return "country", f.value
    cc, _, digits = f.value.partition(":")
    return "prefix", cc + digits


class Watcher:
    def __init__(
        self,
        entries: Callable[[], tuple[AutoBlock, ...]],
        source: FiguresSource,
        overrides: Overrides,
        *,
        clock: Clock,
        metrics: Metrics,
        alerts: AlertSink | None = None,
        interval_s: float = 60.0,
    ) -> None:
        self.entries = entries
        self.candidates = Candidates()
        self.source = source
        self.overrides = overrides
        self.clock = clock
        self.metrics = metrics
        self.alerts = alerts
        self.interval_s = interval_s
        self._alerted: dict[str, tuple[str, str]] = {}  # alert key -> override target

    async def tick(self) -> list[Figures]:
        """One look: block (or record in shadow) every collapsed destination; the ones found."""
        now = self.clock.time()
        found: list[Figures] = []
        taken: dict[str, list[tuple[str, str]]] = {}
        for entry in self.entries():
            dim = entry.dimension
            if dim not in taken:
                taken[dim] = self.candidates.take(dim)
            for f in await self.source.figures(dim, taken[dim], entry.window, now):
                if collapsed(entry, f):
                    found.append(f)
                    await self._block(entry, f)
        self._clear_lifted()
        return found

    async def _block(self, entry: AutoBlock, f: Figures) -> None:
        kind, value = target(f)
        active = {(o.kind, o.value) for o in self.overrides.active()}
        if (kind, value) in active:
            return  # already blocked (by us or by a person): nothing to add
        text = f"{entry.id}: {reason(f)}"
        mode = "shadow" if entry.shadow else "enforce"
        self.metrics.auto_blocks.labels(rule=entry.id, mode=mode).inc()
        log.warning("auto_block", rule=entry.id, mode=mode, target=f.shown, reason=text)
        if entry.shadow:
            await self.overrides.note(
                "would auto-block", author=AUTHOR, reason=text, kind=kind, value=f.shown
            )
            return
        try:
            await self.overrides.add(
                kind, value, "block", reason=text, author=AUTHOR, expires_in_s=entry.block_for_s
            )
        except OverrideError as exc:
            log.error("auto_block_refused", target=f.shown, error=str(exc))
            return
        key = f"auto-block:{kind}:{value}"
        self._alerted[key] = (kind, value)
        if self.alerts is not None:
            self.alerts.fire(
                Alert(
                    key=key,
                    severity=Severity.WARNING,
                    title=f"Automatic block of {f.shown} ({entry.block_for_s // 60} min)",
                    summary=reason(f),
                    since=self.clock.time(),
                    link_path="/dashboard/conversion",
                    values={"rule": entry.id, "sent": f.sent, "completed": f.completed},
                )
            )

    def _clear_lifted(self) -> None:
        active = {(o.kind, o.value) for o in self.overrides.active()}
        for key, pair in list(self._alerted.items()):
            if pair not in active:  # lifted on the dashboard, or expired
                del self._alerted[key]
                if self.alerts is not None:
                    self.alerts.clear(key)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.tick()
            except Exception as exc:  # Redis down, a bad read: the next look tries again
                log.error("auto_block_watch_failed", error=f"{type(exc).__name__}: {exc}")
