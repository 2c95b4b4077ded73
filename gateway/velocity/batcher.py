"""A generic Redis batcher: the commands of concurrent requests share a few pipelines.

Batching: redis-py costs ~280 us of client CPU per call. `RedisBatcher` gathers the calls of all
requests issued in one event-loop tick into pipelines of at most 64 calls, at most 2 in flight,
each with its own budget from the moment it is sent (a slow pipeline fails only its own callers;
a burst of 1,000 decisions no longer becomes one pipeline that overruns the budget for all).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

# One command and its arguments, as `execute_command` takes them.
Command = tuple[str | bytes | int | float, ...]
# One reply in a pipeline's answer: a value, or the exception object for a command that failed.
Reply = object

MAX_CALLS_PER_PIPELINE = 64  # commands in one pipeline: a slow pipeline fails at most these
MAX_PIPELINES_IN_FLIGHT = 2  # pipelines awaiting Redis at once; the rest wait in the queue


@dataclass
class _Pending:
    commands: list[Command]
    future: asyncio.Future[list[Reply]]


@dataclass
class BatcherStats:
    pipelines: int = 0
    commands: int = 0
    errors: int = 0
    by_size: dict[int, int] = field(default_factory=dict)


def with_source(command: Command, scripts: Mapping[str, str]) -> Command:
    """An EVALSHA of one of `scripts` (SHA-1 -> source) as the EVAL of its source: for a node
    that answered NOSCRIPT. EVAL is routed by its keys like EVALSHA, so this works on a Cluster,
    where SCRIPT LOAD cannot be pipelined; it also caches the script on that node."""
    name, sha, *rest = command
    source = scripts.get(str(sha))
    return ("EVAL", source, *rest) if name == "EVALSHA" and source else command


class RedisBatcher:
    """Collects the Redis commands of concurrent requests and sends them in a few pipelines.

    `run(commands)` queues a request's commands (usually one EVALSHA) and resolves to their replies
    (errors in place, as exception objects). The first call in a tick schedules a pump with
    `loop.call_soon`; the pump cuts the queue into pipelines of at most `max_calls` commands and
    keeps at most `max_in_flight` of them waiting on Redis (the others wait their turn in the queue,
    which costs no Redis time). Deadlines:
      - a pipeline must be answered within `timeout_s` of being sent, or its callers (and only
        them: at most `max_calls`) fail with TimeoutError; the client's own CPU spent queueing
        a burst is not charged to Redis;
      - a caller fails after `queue_timeout_s` in all (queued + sent), whatever the cause.
    `on_connect()` returns commands sent at the head of the first pipeline and of the first one
    after any failure (the shared hash key): no extra round trip, and a Redis that restarted or
    was flushed gets them back at once. An EVALSHA of one of `scripts` (SHA-1 -> source) that
    meets NOSCRIPT (a restarted, flushed or newly promoted node) is sent again as EVAL, which
    runs it and caches it on the node serving its keys: this works alike on one server and on a
    Cluster, where SCRIPT LOAD cannot be pipelined.
    """

    def __init__(
        self,
        redis: Redis,
        timeout_s: float,
        *,
        max_calls: int = MAX_CALLS_PER_PIPELINE,
        max_in_flight: int = MAX_PIPELINES_IN_FLIGHT,
        queue_timeout_s: float | None = None,
        on_connect: Callable[[], list[Command]] | None = None,
        scripts: Mapping[str, str] | None = None,
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.max_calls = max_calls
        self.max_in_flight = max_in_flight
        self.queue_timeout_s = queue_timeout_s or max(1.0, 20 * timeout_s)
        self.on_connect = on_connect or list
        self.scripts = dict(scripts or {})
        self.stats = BatcherStats()
        self._queue: deque[_Pending] = deque()
        self._scheduled = False
        self._in_flight = 0
        self._fresh = True  # the next pipeline starts with the on_connect commands
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, commands: list[Command]) -> list[Reply]:
        future = self.submit(commands)
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                return await future
        except TimeoutError:
            if future.cancelled():  # our own deadline, not a pipeline's
                raise TimeoutError(
                    f"redis call not answered within {self.queue_timeout_s * 1000:.0f} ms"
                ) from None
            raise

    def submit(self, commands: list[Command]) -> asyncio.Future[list[Reply]]:
        """Queue commands for the next pipeline; the future resolves to their replies."""
        loop = asyncio.get_running_loop()
        pending = _Pending(commands, loop.create_future())
        self._queue.append(pending)
        self._schedule(loop)
        return pending.future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._queue and self._in_flight < self.max_in_flight:
            chunk: list[_Pending] = []
            n = 0
            while self._queue and n < self.max_calls:
                p = self._queue.popleft()
                if not p.future.done():  # a caller past its own deadline is not sent
                    chunk.append(p)
                    n += len(p.commands)
            if not chunk:
                break
            self._in_flight += 1
            task = loop.create_task(self._send(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if self._queue:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._schedule(asyncio.get_running_loop())

    async def _send(self, batch: list[_Pending]) -> None:
        commands = [c for p in batch for c in p.commands]
        head = self.on_connect() if self._fresh else []
        self.stats.pipelines += 1
        self.stats.commands += len(commands)
        self.stats.by_size[len(batch)] = self.stats.by_size.get(len(batch), 0) + 1
        try:
            async with asyncio.timeout(self.timeout_s):
                replies = await self._execute(head + commands)
        except asyncio.CancelledError:
            for p in batch:  # shutting down: nobody may wait forever
                if not p.future.done():
                    p.future.set_exception(TimeoutError("redis call cancelled"))
            raise
        except (RedisError, OSError, TimeoutError) as exc:
            self.stats.errors += 1
            self._fresh = True
            error = (
                exc
                if not isinstance(exc, TimeoutError)
                else TimeoutError(f"redis did not answer within {self.timeout_s * 1000:.0f} ms")
            )
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        if head:
            self._fresh = any(isinstance(r, Exception) for r in replies[: len(head)])
            replies = replies[len(head) :]
        start = 0
        for p in batch:
            if not p.future.done():
                p.future.set_result(replies[start : start + len(p.commands)])
            start += len(p.commands)

    async def _execute(self, commands: list[Command]) -> list[Reply]:
        replies = await self._pipeline(commands)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            # The node lost its script cache: run those calls again with the script's source.
            retried = await self._pipeline(
                [with_source(commands[i], self.scripts) for i in missing]
            )
            for i, reply in zip(missing, retried, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, commands: list[Command]) -> list[Reply]:
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))
