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
- beat runs celery-redbeat's scheduler: the schedule (and each job's last run) lives in
  the app's Redis (`REDIS_URL`, keys under `BEAT_KEY_PREFIX`), and a beat sends periodic
  jobs only while it holds a Redis lock, renewed at every tick (at least every
  `BEAT_MAX_INTERVAL_SECONDS`) and expiring `BEAT_LOCK_TIMEOUT_SECONDS` after the last
  renewal. A second beat is a standby: it waits for the lock, so each periodic job is sent
  once per interval however many beats run, and takes over when the holder stops
  (at once: a stopping beat releases the lock) or dies (within the lock timeout).
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
        beat_scheduler="redbeat.RedBeatScheduler",
        beat_max_loop_interval=jobs.beat_max_interval_seconds,
        redbeat_redis_url=settings.redis.resolved_url,
        redbeat_redis_options={
            "socket_timeout": settings.redis.socket_timeout_seconds,
            "socket_connect_timeout": settings.redis.socket_timeout_seconds,
        },
        redbeat_key_prefix=beat_key_prefix(settings),
        redbeat_lock_key=beat_key_prefix(settings) + "lock",
        redbeat_lock_timeout=jobs.beat_lock_timeout_seconds,
    )
    return app


def beat_key_prefix(settings: Settings) -> str:
    """Where beat's schedule and lock live in Redis: one prefix per deployment."""
    return settings.jobs.beat_key_prefix or f"parley:{settings.mongo.db_name}:beat:"
