"""The Celery application: `celery -A api.worker:celery_app worker|beat|flower`.

Built from the same settings and composition root as the API. Each worker process keeps
one event loop on a background thread, and opens the Mongo client, Beanie and the Redis
pool on it once (`api.wiring.running`), for all the tasks it runs; they are closed when the
process shuts down.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import punq
from celery import Celery
from celery.signals import setup_logging, worker_process_shutdown, worker_shutdown

from api.common.logging import configure_logging
from api.common.loop_thread import LoopThread
from api.config import ConfigurationError, Settings, load_settings
from api.interfaces.jobs import tasks as _tasks  # noqa: F401 - declares the tasks
from api.interfaces.jobs.base import register_tasks
from api.interfaces.jobs.metrics import count_job_outcomes
from api.interfaces.jobs.schedule import beat_schedule
from api.wiring import create_celery, running

T = TypeVar("T")
log = logging.getLogger("parley.worker")


class WorkerRuntime:
    """The process's event loop, clients and container (see `JobRuntime`)."""

    def __init__(self, settings: Settings, celery: Celery) -> None:
        self.max_retries = settings.jobs.job_max_retries
        self.backoff_seconds = settings.jobs.job_retry_backoff_seconds
        self.backoff_max_seconds = settings.jobs.job_retry_backoff_max_seconds
        self._loop = LoopThread("parley-worker-loop")
        self._resources: AbstractAsyncContextManager[punq.Container] = running(
            settings, celery=celery
        )
        self.container: punq.Container = self._loop.run(self._resources.__aenter__())
        self.pid = os.getpid()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._loop.run(coroutine, timeout)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return self._loop.submit(coroutine)

    def close(self) -> None:
        try:
            self._loop.run(self._resources.__aexit__(None, None, None))
        finally:
            self._loop.stop()


def _load() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise SystemExit(f"Parley worker cannot start: {exc}") from None


settings = _load()
celery_app = create_celery(settings)
register_tasks(celery_app)
celery_app.conf.beat_schedule = beat_schedule(settings)

_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def parley_runtime() -> WorkerRuntime:
    """This process's runtime, started on first use (after any fork)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = WorkerRuntime(settings, celery_app)
            log.info("worker process %d ready", os.getpid())
        return _runtime


celery_app.parley_runtime = parley_runtime
count_job_outcomes(parley_runtime)  # parley_jobs_total, read by the API's /metrics


def _logging(**_: object) -> None:
    configure_logging(level=settings.log_level, json=settings.json_logs)


def _close_runtime(**_: object) -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None and _runtime.pid == os.getpid():
            _runtime.close()
            _runtime = None


# Connected by call, not as decorators: celery is untyped, and a decorator typed `Any`
# would turn these functions into `Any` too.
setup_logging.connect(_logging)
worker_process_shutdown.connect(_close_runtime)
worker_shutdown.connect(_close_runtime)
