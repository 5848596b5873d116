"""Read the job figures `/metrics` reports, each bounded in time (a slow store never holds a
scrape: what it could not read in time is reported missing)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from api.domain.operations.metrics import JobOutcomes, QueueDepths

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class JobMetrics:
    """`None`: that figure could not be read within the time allowed."""

    outcomes: dict[tuple[str, str], int] | None
    queue_depths: dict[str, int] | None


async def _within(read: Awaitable[T], seconds: float, what: str) -> T | None:
    try:
        async with asyncio.timeout(seconds):
            return await read
    except TimeoutError:
        log.warning("metrics: %s not read within %gs", what, seconds)
    except Exception as exc:  # any failure means "missing"; the type name is enough
        log.warning("metrics: %s not read: %s", what, type(exc).__name__)
    return None


class ReadJobMetrics:
    """Job outcomes and queue depths, read concurrently, each within `within_seconds`."""

    def __init__(self, outcomes: JobOutcomes, queues: QueueDepths) -> None:
        self._outcomes = outcomes
        self._queues = queues

    async def execute(self, within_seconds: float) -> JobMetrics:
        outcomes, depths = await asyncio.gather(
            _within(self._outcomes.counts(), within_seconds, "job outcomes"),
            _within(self._queues.depths(), within_seconds, "queue depths"),
        )
        return JobMetrics(outcomes=outcomes, queue_depths=depths)
