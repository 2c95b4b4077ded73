"""The alerter: takes alerts from any stage without waiting, delivers them in the background.

    fire(alert) ──> incoming queue ──> incidents (Redis: once per incident, every replica)
                                          │ opened / closed
                                          v
                    one queue per notifier ──> HTTP POST, retried with backoff while it fails

`fire` and `clear` never block and never raise: they are called on the `/sms` path, where a burst
of 10,000 refusals may fire the same alert 10,000 times. A key fired again within `_REFRESH_S`
is not even queued (only its last-seen time moves, once per `_REFRESH_S`). A notifier that is
down or hangs holds up only its own queue; its messages wait there, retried for
`retry_for_s`, and are counted when they are finally given up or dropped for a full queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from redis.exceptions import RedisError

from gateway.alerts.incidents import Incidents, LocalIncidents
from gateway.alerts.model import Alert
from gateway.alerts.notifiers import Notifier, post
from gateway.clock import Clock
from gateway.errors import AlertDeliveryError
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.settings import AlertsSettings

log = get_logger("gateway.alerts")

_REFRESH_S = 30.0  # how often a still-firing incident's last-seen time is written
_SWEEP_S = 15.0  # how often quiet incidents are looked for
_BACKOFF_MAX_S = 60.0

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Fire:
    alert: Alert


@dataclass(frozen=True, slots=True)
class _Clear:
    key: str


class NotifierQueue:
    """One notifier's pending messages and its delivery loop."""

    def __init__(
        self,
        notifier: Notifier,
        settings: AlertsSettings,
        session: aiohttp.ClientSession,
        clock: Clock,
        metrics: Metrics,
        sleep: Sleep,
    ) -> None:
        self.notifier = notifier
        self._sleep = sleep
        self._settings = settings
        self._session = session
        self._clock = clock
        self._metrics = metrics
        self._queue: asyncio.Queue[tuple[Alert, str]] = asyncio.Queue(settings.queue_size)
        self._sent_at: deque[float] = deque()  # send times in the last minute (rate limit)

    def put(self, alert: Alert, link: str) -> None:
        if alert.severity < self.notifier.min_severity:
            return
        try:
            self._queue.put_nowait((alert, link))
        except asyncio.QueueFull:
            self._count("dropped")
            log.warning("alert dropped: queue full", notifier=self.notifier.name, alert=alert.key)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def join(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            alert, link = await self._queue.get()
            try:
                await self._deliver(alert, link)
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert, link: str) -> None:
        if not self._within_rate():
            self._count("rate_limited")
            log.warning("alert not sent: rate limit", notifier=self.notifier.name, alert=alert.key)
            return
        said = log.bind(notifier=self.notifier.name, alert=alert.key, status=alert.status.value)
        started = self._clock.monotonic()
        delay = 1.0
        while True:
            try:
                out = self.notifier.render(alert, link)
                await post(self._session, out, self.notifier.name, self.notifier.timeout_s)
            except AlertDeliveryError as exc:
                waited = self._clock.monotonic() - started
                if not exc.retryable or waited + delay > self._settings.retry_for_s:
                    self._count("failed")
                    said.warning("alert not delivered", error=exc.message)
                    return
                await self._sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            self._count("sent")
            said.info("alert delivered")
            return

    def _within_rate(self) -> bool:
        now = self._clock.monotonic()
        while self._sent_at and self._sent_at[0] <= now - 60:
            self._sent_at.popleft()
        if len(self._sent_at) >= self._settings.per_minute:
            return False
        self._sent_at.append(now)
        return True

    def _count(self, result: str) -> None:
        self._metrics.alerts.labels(self.notifier.name, result).inc()


class Alerter:
    def __init__(
        self,
        notifiers: Sequence[Notifier],
        incidents: Incidents,
        settings: AlertsSettings,
        session: aiohttp.ClientSession,
        clock: Clock,
        metrics: Metrics,
        dashboard_url: str,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._incidents = incidents
        self._local = LocalIncidents()
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._base = dashboard_url.rstrip("/")
        self._inbox: asyncio.Queue[_Fire | _Clear] = asyncio.Queue(settings.queue_size)
        self._last_forwarded: dict[str, float] = {}
        self.queues = [
            NotifierQueue(n, settings, session, clock, metrics, sleep) for n in notifiers
        ]

    # --- called from anywhere, never blocks ------------------------------------------------------

    def fire(self, alert: Alert) -> None:
        """Report that an incident is happening (again). Cheap enough for every request."""
        now = self._clock.monotonic()
        last = self._last_forwarded.get(alert.key)
        if last is not None and now - last < _REFRESH_S:
            return
        self._last_forwarded[alert.key] = now
        self._offer(_Fire(alert))

    def clear(self, key: str) -> None:
        """Report that an incident is over (a circuit closed, a block lifted)."""
        self._last_forwarded.pop(key, None)
        self._offer(_Clear(key))

    def _offer(self, item: _Fire | _Clear) -> None:
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            self._metrics.alerts.labels("-", "dropped").inc()

    # --- background ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Process fired alerts, sweep quiet incidents and deliver, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for queue in self.queues:
                group.create_task(queue.run(), name=f"alerts-{queue.notifier.name}")
            group.create_task(self._sweep_loop(), name="alerts-sweep")
            while True:
                item = await self._inbox.get()
                try:
                    await self._handle(item)
                finally:
                    self._inbox.task_done()

    async def _handle(self, item: _Fire | _Clear) -> None:
        if isinstance(item, _Fire):
            if await self._store_call(lambda s: s.open(item.alert, self._clock.time())):
                self._metrics.alert_incidents.labels(item.alert.severity.label).inc()
                await self._send(item.alert)
            return
        closed = await self._store_call(lambda s: s.close(item.key))
        if closed is not None:
            await self._send(closed.resolved(self._clock.time()))

    async def sweep(self) -> None:
        """Close every incident not raised for `resolve_after_s` and send its resolve message."""
        now = self._clock.time()
        for alert in await self._store_call(
            lambda s: s.close_quiet(now - self._settings.resolve_after_s)
        ):
            self._last_forwarded.pop(alert.key, None)
            await self._send(alert.resolved(now))

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_S)
            await self.sweep()

    async def _store_call(self, call: Callable[[Incidents], Awaitable[T]]) -> T:
        try:
            return await call(self._incidents)
        except (RedisError, OSError) as exc:
            log.warning("alert incidents kept locally: Redis unavailable", error=type(exc).__name__)
            return await call(self._local)

    async def _send(self, alert: Alert) -> None:
        """To every notifier, and into the short list of sent alerts (the Spend page)."""
        self._fan_out(alert)
        await self._store_call(lambda s: s.remember(alert, self._clock.time()))

    def _fan_out(self, alert: Alert) -> None:
        link = self._base + alert.link_path
        for queue in self.queues:
            queue.put(alert, link)

    async def drain(self, seconds: float) -> None:
        """At shutdown: give queued messages a short while to go out."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._inbox.join()
                for queue in self.queues:
                    await queue.join()
