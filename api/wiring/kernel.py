"""Platform-wide adapters: the job machinery and the audit log (ports in the domain kernel)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import punq

from api.common.clock import SystemClock
from api.config import Settings
from api.domain.audit import AuditLog
from api.domain.clock import Clock
from api.domain.jobs import FailedJobLog, Heartbeats, IdempotencyGuard, JobQueue
from api.domain.lifecycle import Closeable, Startable
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.jobs.heartbeats import RedisHeartbeats
from api.infrastructure.jobs.idempotency import RedisIdempotencyGuard
from api.infrastructure.jobs.queue import CeleryJobQueue, RedisJobQueue
from api.infrastructure.persistence.audit.entries import MongoAuditLog
from api.infrastructure.persistence.operations.failed_jobs import MongoFailedJobLog
from api.wiring.clients import Clients


class OnStart:
    """A `Startable` running one start-up step of an adapter (e.g. its retention index)."""

    def __init__(self, step: Callable[[], Awaitable[None]]) -> None:
        self._step = step

    async def start(self) -> None:
        await self._step()


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(Clock, instance=SystemClock())
    container.register(JobQueue, instance=_job_queue(container, settings, clients))
    container.register(IdempotencyGuard, instance=RedisIdempotencyGuard(clients.redis))
    container.register(Heartbeats, instance=RedisHeartbeats(clients.redis))
    failed_jobs = MongoFailedJobLog(settings.jobs.failed_jobs_retention_days)
    container.register(FailedJobLog, instance=failed_jobs)
    container.register(Startable, instance=OnStart(failed_jobs.ensure_retention))
    audit = MongoAuditLog(settings.auth.audit_retention_days)
    container.register(AuditLog, instance=audit)
    container.register(Startable, instance=OnStart(audit.ensure_retention))


def _job_queue(container: punq.Container, settings: Settings, clients: Clients) -> JobQueue:
    """Jobs published with the async Redis client when the broker is Redis (its own pool,
    closed with the process), through Celery's producer otherwise."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return CeleryJobQueue(clients.celery)
    broker = create_redis(
        settings.broker_url,
        socket_timeout=settings.redis.socket_timeout_seconds,
        max_connections=settings.redis.max_connections,
    )
    queue = RedisJobQueue(clients.celery, broker)
    container.register(Closeable, instance=queue)
    return queue
