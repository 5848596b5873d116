"""Blocking work on buffers in a worker thread, one step behind the event loop.

`Behind.submit(fn, *args)` waits for the previous call to finish (so calls run one after
another, in order), starts this one in the default executor and returns at once: the
loop goes on receiving the next buffer while the thread hashes or writes this one. Used
on uploads so that receiving, hashing and writing overlap instead of running in turn
(`hashlib` and file writes release the GIL). `settle()` waits for the call in flight
whatever happens to the caller (cancellation included), so a file is never closed or
removed under a write still running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any


class Behind:
    """At most one blocking call in flight, started by `submit`, checked by the next."""

    def __init__(self) -> None:
        self._pending: asyncio.Future[Any] | None = None

    async def submit(self, function: Callable[..., object], *args: object) -> None:
        """Raise the previous call's error, if any; then start `function(*args)`."""
        await self.wait()
        self._pending = asyncio.get_running_loop().run_in_executor(None, function, *args)

    async def wait(self) -> None:
        """Wait for the call in flight; its error is raised here."""
        pending = self._pending
        if pending is None:
            return
        try:
            # Shielded: when the caller is cancelled here the call stays in flight for
            # `settle` to wait on, rather than being forgotten while the thread runs.
            await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending = None

    async def settle(self) -> None:
        """Wait for the call in flight, ignoring its outcome (for cleanup paths)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait([pending])
