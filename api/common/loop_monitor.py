"""A watchdog for the event loop: logs when something held it longer than a threshold.

A task sleeps `interval` seconds over and over; when it wakes later than asked, the loop
was busy (a blocking call, a long computation, or a machine out of CPU) for that long.
Stalls over the threshold are logged as warnings with their length; `max_lag_ms` and
`stalls` keep the worst and the count. Off unless `LOOP_BLOCK_WARN_MS` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

log = logging.getLogger("parley.loop")


class LoopMonitor:
    def __init__(self, threshold_ms: float, interval_seconds: float = 0.01) -> None:
        self.threshold_ms = threshold_ms
        self.interval = interval_seconds
        self.max_lag_ms = 0.0
        self.stalls = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="loop-monitor")

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag_ms = (time.perf_counter() - before - self.interval) * 1000
            self.max_lag_ms = max(self.max_lag_ms, lag_ms)
            if lag_ms > self.threshold_ms:
                self.stalls += 1
                log.warning("event loop blocked for %.0f ms", lag_ms)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            log.info(
                "event loop monitor: worst lag %.1f ms, %d stalls over %g ms",
                self.max_lag_ms, self.stalls, self.threshold_ms,
            )  # fmt: skip
