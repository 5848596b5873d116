"""Coroutines started on the running loop that nobody waits for: each task is kept (the
loop holds only weak references to tasks) until it ends, and a failure is logged, never
raised (what they do is best effort). `BoundedBackground` caps how many of one kind run
at once (its callers wait for room); `drain_background` lets a process that stops wait
for them before it closes its clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

_RUNNING: set[asyncio.Task[Any]] = set()
log = logging.getLogger(__name__)


def in_background(
    coroutine: Coroutine[Any, Any, Any], log: logging.Logger, level: int, failed: str
) -> None:
    """Start `coroutine` on this loop; a failure is logged on `log` at `level` as
    `failed` followed by the error's type."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _RUNNING.add(task)

    def ended(done: asyncio.Task[Any]) -> None:
        _RUNNING.discard(done)
        if not done.cancelled() and (error := done.exception()) is not None:
            log.log(level, "%s: %s", failed, type(error).__name__)

    task.add_done_callback(ended)


class BoundedBackground:
    """At most `limit` coroutines started by `start` run at once: `start` waits for room
    (a slow dependency slows its callers instead of growing a backlog), then starts the
    coroutine `in_background` and returns without waiting for it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting = 0  # callers of `start` waiting for room
        self._room = asyncio.Semaphore(limit)

    async def start(
        self, coroutine: Coroutine[Any, Any, Any], log: logging.Logger, level: int, failed: str
    ) -> None:
        self.waiting += 1
        try:
            await self._room.acquire()
        except BaseException:
            coroutine.close()  # never started: no "never awaited" warning
            raise
        finally:
            self.waiting -= 1
        in_background(self._holding(coroutine), log, level, failed)

    async def _holding(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coroutine
        finally:
            self._room.release()


async def drain_background(seconds: float) -> None:
    """Wait, at most `seconds`, until this loop's background tasks have ended
    (those they start meanwhile included): a stopping process calls it before closing
    the clients they use."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while pending := [task for task in _RUNNING if task.get_loop() is loop and not task.done()]:
        left = deadline - loop.time()
        if left <= 0:
            log.warning("stopping with %d background task(s) unfinished", len(pending))
            return
        await asyncio.wait(pending, timeout=left)
