"""Count every job run by task and outcome, from the worker process that ran it.

Celery's `task_postrun` signal fires in the process (and, in the threads pool, the thread)
that ran the task, with its final state; the count goes to `JobOutcomes` (a Redis hash the
API reads at scrape time), so it is seen whatever the pool, host or number of workers. A
count that cannot be written (Redis down) is logged and dropped: it never fails the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from celery.signals import task_postrun

from api.config import Settings
from api.domain.operations.metrics import JobOutcomes
from api.interfaces.jobs.base import JobRuntime

log = logging.getLogger("parley.jobs")

# Celery's final states as outcomes; any other state is counted under its own name.
OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


def outcome_of(state: object) -> str:
    return OUTCOMES.get(str(state), str(state).lower())


def count_job_outcomes(runtime: Callable[[], JobRuntime]) -> None:
    """Connect the counter (once per process; `runtime` gives the process's runtime).

    The count is handed to the process's event loop and not waited for: the thread that
    ran the job takes the next one at once (waiting was a thread hop and a Redis round
    trip added to every job's time in its thread; bench/README.md, "sends.py")."""

    def count(task: Any = None, state: object = None, **_: object) -> None:
        name = str(getattr(task, "name", None) or "unknown")
        try:
            current = runtime()
            settings: Settings = current.container.resolve(Settings)
            outcomes: JobOutcomes = current.container.resolve(JobOutcomes)
            timeout = settings.metrics.metrics_read_timeout_seconds
            written = current.submit(_record(outcomes, name, outcome_of(state), timeout))
            written.add_done_callback(lambda done: _dropped(name, done))
        except Exception as exc:
            _dropped(name, exc)

    # By call, not as a decorator (celery is untyped); weak=False: `count` is a closure.
    task_postrun.connect(count, weak=False)


async def _record(outcomes: JobOutcomes, name: str, outcome: str, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        await outcomes.record(name, outcome)


def _dropped(name: str, outcome: Future[None] | Exception) -> None:
    """Log a count that could not be written (never the job's failure)."""
    if isinstance(outcome, Future):
        if outcome.cancelled() or outcome.exception() is None:
            return
        error: BaseException | None = outcome.exception()
    else:
        error = outcome
    log.warning("could not count the outcome of %s: %s", name, type(error).__name__)
