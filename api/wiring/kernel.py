"""Platform-wide adapters: the job machinery and the audit log (ports in the domain kernel)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import punq

from api.common.clock import SystemClock
from api.config import Settings
from api.domain.audit import AuditLog
from api.domain.clock import Clock
from api.domain.jobs import FailedJobLog, Heartbeats, IdempotencyGuard, JobQueue
from api.domain.lifecycle import Startable
from api.infrastructure.jobs.heartbeats import RedisHeartbeats
from api.infrastructure.jobs.idempotency import RedisIdempotencyGuard
from api.infrastructure.jobs.queue import CeleryJobQueue
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
    container.register(JobQueue, instance=CeleryJobQueue(clients.celery))
    container.register(IdempotencyGuard, instance=RedisIdempotencyGuard(clients.redis))
    container.register(Heartbeats, instance=RedisHeartbeats(clients.redis))
    failed_jobs = MongoFailedJobLog(settings.jobs.failed_jobs_retention_days)
    container.register(FailedJobLog, instance=failed_jobs)
    container.register(Startable, instance=OnStart(failed_jobs.ensure_retention))
    audit = MongoAuditLog(settings.auth.audit_retention_days)
    container.register(AuditLog, instance=audit)
    container.register(Startable, instance=OnStart(audit.ensure_retention))
