"""The Celery application's configuration, shared by the API (to publish) and the worker.

Choices, and why:
- Redis as broker and result backend (`CELERY_BROKER_URL`/`CELERY_RESULT_BACKEND`,
  default `REDIS_URL`).
- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged after the
  task ran, so a worker that dies mid-task hands it to another. Tasks must therefore be
  idempotent (see `RedisIdempotencyGuard`).
- `visibility_timeout` (`BROKER_VISIBILITY_TIMEOUT_SECONDS`, 1 h): how long Redis waits
  for an ack before redelivering; longer than any task plus the largest retry countdown.
- `worker_prefetch_multiplier` (`WORKER_PREFETCH_MULTIPLIER`, 4): messages reserved per
  process; small, because our tasks are short I/O and late acks keep them reserved.
- Hard/soft time limits (`JOB_TIME_LIMIT_SECONDS`/`JOB_SOFT_TIME_LIMIT_SECONDS`).
- JSON only (no pickle), UTC, task events on so Flower lists tasks.
"""

from __future__ import annotations

from celery import Celery

from api.config import Settings

DEFAULT_QUEUE = "parley"


def create_celery(settings: Settings, *, main: str = "parley", results: bool = True) -> Celery:
    """The Celery app. `results=False` for processes that only publish (the API, the CLI):
    they never wait on results, so they keep no result-backend subscription to Redis."""
    jobs = settings.jobs
    backend = settings.result_backend_url if results else "disabled://"
    app = Celery(main, broker=settings.broker_url, backend=backend)
    app.conf.update(
        task_default_queue=DEFAULT_QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_time_limit=jobs.job_time_limit_seconds,
        task_soft_time_limit=min(jobs.job_soft_time_limit_seconds, jobs.job_time_limit_seconds),
        worker_prefetch_multiplier=jobs.worker_prefetch_multiplier,
        broker_transport_options={"visibility_timeout": jobs.broker_visibility_timeout_seconds},
        result_backend_transport_options={
            "visibility_timeout": jobs.broker_visibility_timeout_seconds
        },
        result_expires=jobs.job_result_expires_seconds,
        result_extended=True,
        task_track_started=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.redis.socket_timeout_seconds,
        redis_socket_timeout=settings.redis.socket_timeout_seconds,
        redis_socket_connect_timeout=settings.redis.socket_timeout_seconds,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app
