"""Backfill: past SMS logins from the Auth0 Management API, so a new deployment has a baseline.

    POST https://<domain>/oauth/token        client credentials -> a Management API token
    GET  /api/v2/logs?sort=date:1&per_page=1 the oldest retained event (when no checkpoint yet)
    GET  /api/v2/logs?from=<log_id>&take=100 checkpoint pagination: events after log_id, in log_id
                                             order; then the `Link: <...>; rel="next"` URL

Each page goes through the same classification as the log stream (`auth0log`) and the same store
(log_ids dedupe: a backfill overlapping the stream counts nothing twice), then the last log_id is
saved in Redis as the checkpoint, so an interrupted run resumes where it stopped. Rate limits: a
429 waits until `x-ratelimit-reset` (unix seconds; else Retry-After) and retries; a page answered
with `x-ratelimit-remaining: 0` waits for the reset before the next call. The run ends on an empty
page (caught up).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from redis.asyncio import Redis

from gateway.clock import Clock
from gateway.errors import IntakeError, SmsGuardError
from gateway.feedback.auth0log import Batch, classify
from gateway.feedback.ingest import Ingest
from gateway.jsontypes import JSON

CHECKPOINT_KEY = "smsguard:feedback:backfill:checkpoint"
PAGE_SIZE = 100
MAX_WAIT_S = 300.0
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

Sleep = Callable[[float], Awaitable[None]]


class BackfillError(SmsGuardError):
    """The Management API refused or failed: `where` is the request, `status` its answer."""

    def __init__(self, where: str, status: int, detail: str) -> None:
        self.where = where
        self.status = status
        super().__init__(f"{where} -> HTTP {status}: {detail}")


@dataclass
class Progress:
    pages: int = 0
    events: int = 0
    completions: int = 0
    duplicates: int = 0
    ignored: int = 0
    rejected: int = 0
    rate_limited: int = 0
    checkpoint: str | None = None
    problems: list[str] = field(default_factory=list)


def base_url(domain: str) -> str:
    domain = domain.rstrip("/")
    return domain if domain.startswith(("http://", "https://")) else f"https://{domain}"


class ManagementApi:
    """The two Management API calls the backfill needs, rate-limit aware."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        domain: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        progress: Progress | None = None,
    ) -> None:
        self.session = session
        self.base = base_url(domain)
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.sleep = sleep
        self.progress = progress or Progress()
        self._token: str | None = None
        self._wait_until = 0.0

    async def token(self) -> str:
        if self._token is None:
            body = {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "audience": f"https://{self.base.split('://', 1)[1]}/api/v2/",
            }
            async with self.session.post(f"{self.base}/oauth/token", json=body) as response:
                answer = await _json(response, "POST /oauth/token")
            token = answer.get("access_token") if isinstance(answer, dict) else None
            if not isinstance(token, str):
                raise BackfillError("POST /oauth/token", 200, "answer has no access_token")
            self._token = token
        return self._token

    async def get(self, url: str) -> tuple[list[JSON], str | None]:
        """One page of log events and the next page's URL (from the Link header)."""
        where = "GET " + url.removeprefix(self.base)
        refreshed = False
        while True:
            wait = self._wait_until - self.clock.time()
            if wait > 0:
                await self.sleep(min(wait, MAX_WAIT_S))
            headers = {"Authorization": f"Bearer {await self.token()}"}
            async with self.session.get(url, headers=headers) as response:
                self._note_limits(response)
                if response.status == 429:
                    self.progress.rate_limited += 1
                    self._wait_until = max(self._wait_until, self._reset_at(response))
                    continue
                if response.status == 401 and not refreshed:
                    self._token, refreshed = None, True  # expired: one new token
                    continue
                page = await _json(response, where)
                link = _NEXT.search(response.headers.get("Link", ""))
            if not isinstance(page, list):
                raise BackfillError(where, response.status, "expected a JSON array of log events")
            return page, link.group(1) if link else None

    def _note_limits(self, response: aiohttp.ClientResponse) -> None:
        if response.headers.get("x-ratelimit-remaining") == "0":
            self._wait_until = max(self._wait_until, self._reset_at(response))

    def _reset_at(self, response: aiohttp.ClientResponse) -> float:
        now = self.clock.time()
        reset = response.headers.get("x-ratelimit-reset")
        if reset and reset.isdigit():
            return min(float(reset), now + MAX_WAIT_S)
        retry = response.headers.get("Retry-After", "")
        return now + (min(float(retry), MAX_WAIT_S) if retry.isdigit() else 1.0)


async def _json(response: aiohttp.ClientResponse, where: str) -> JSON:
    if response.status >= 400:
        text = (await response.text())[:200]
        raise BackfillError(where, response.status, text or response.reason or "")
    try:
        value: JSON = await response.json(content_type=None)
    except ValueError as exc:
        raise BackfillError(where, response.status, "answer is not JSON") from exc
    return value


class Backfill:
    def __init__(
        self, api: ManagementApi, ingest: Ingest, redis: Redis, *, max_pages: int | None = None
    ) -> None:
        self.api = api
        self.ingest = ingest
        self.redis = redis
        self.max_pages = max_pages
        self.progress = api.progress

    async def run(self, start_from: str | None = None) -> Progress:
        checkpoint = start_from or await self._checkpoint()
        if checkpoint is None:
            oldest, _ = await self.api.get(
                f"{self.api.base}/api/v2/logs?"
                + urlencode({"sort": "date:1", "per_page": 1, "page": 0})
            )
            if not oldest:
                return self.progress
            await self._apply(oldest)
            checkpoint = self.progress.checkpoint
        url: str | None = self._from(checkpoint)
        while url is not None:
            if self.max_pages is not None and self.progress.pages >= self.max_pages:
                break
            page, next_url = await self.api.get(url)
            if not page:
                break
            await self._apply(page)
            url = next_url or self._from(self.progress.checkpoint)
        return self.progress

    def _from(self, checkpoint: str | None) -> str:
        query = {"from": checkpoint or "", "take": PAGE_SIZE}
        return f"{self.api.base}/api/v2/logs?{urlencode(query)}"

    async def _checkpoint(self) -> str | None:
        value = await self.redis.get(CHECKPOINT_KEY)
        return value.decode() if isinstance(value, bytes) else value

    async def _apply(self, page: list[JSON]) -> None:
        p = self.progress
        p.pages += 1
        p.events += len(page)
        batch = Batch([], 0, 0)
        now = self.ingest.clock.time()
        for index, record in enumerate(page):
            try:
                one = classify([record], source="backfill", received_at=now)
            except IntakeError as exc:
                p.rejected += 1
                if len(p.problems) < 20:
                    p.problems.append(f"page {p.pages} record {index}: {exc}")
                continue
            batch.completions += one.completions
            batch.ignored += one.ignored
            batch.records += 1
        summary = await self.ingest.apply(batch, source="backfill")
        p.completions += summary.accepted
        p.duplicates += summary.duplicates
        p.ignored += summary.ignored
        last = next(
            (r.get("log_id") or r.get("_id") for r in reversed(page) if isinstance(r, dict)), None
        )
        if isinstance(last, str):
            p.checkpoint = last
            await self.redis.set(CHECKPOINT_KEY, last)
