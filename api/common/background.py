"""Coroutines started on the running loop that nobody waits for: each task is kept (the
loop holds only weak references to tasks) until it ends, and a failure is logged, never
raised (what they do is best effort)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

_RUNNING: set[asyncio.Task[Any]] = set()


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
