"""One long-lived asyncio event loop on a background thread, for sync hosts (Celery).

A Celery worker process runs task bodies synchronously. Coroutines are handed to this
loop, so clients created on it (Mongo, Redis) live as long as the process instead of one
`asyncio.run()` per task. It is fork-aware: used in a process other than the one that
started it, it refuses, so each prefork child starts its own after the fork.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "parley-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def usable(self) -> bool:
        """True in the process that started it, while it runs."""
        return os.getpid() == self._pid and self._loop.is_running() and not self._loop.is_closed()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the loop and wait for it; cancels it if the wait is interrupted."""
        if os.getpid() != self._pid:
            coroutine.close()
            raise RuntimeError("this event loop belongs to another process")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # e.g. a Celery soft time limit: stop the work, don't leave it running
            raise

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Start `coroutine` on the loop without waiting for it (its future says how it
        ended)."""
        if os.getpid() != self._pid:
            coroutine.close()
            raise RuntimeError("this event loop belongs to another process")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def stop(self) -> None:
        """Stop the loop and join its thread (idempotent)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
