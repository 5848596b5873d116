"""The composition root: the only place (with main.py and worker.py) naming concrete adapters.

`build_container` is called by `bootstrap.running` (API lifespan, worker processes, CLI)
with the long-lived clients it created; tests call it with their own. Clients and stateful
adapters are registered as instances; use cases are cheap and resolved per use.
"""

from __future__ import annotations

import logging

import punq
from celery import Celery
from redis.asyncio import Redis

from api.config import Settings
from api.domain.email import EmailRenderer, EmailSender, OutboundEmailRepository
from api.domain.health import CachePing, DatabasePing
from api.domain.jobs import FailedJobLog, Heartbeats, IdempotencyGuard, JobQueue
from api.domain.tenants import TenantDirectory, TenantRepository
from api.infrastructure.cache.redis import RedisPing
from api.infrastructure.email.outbox import OutboxEmailSender, UnconfiguredEmailSender
from api.infrastructure.email.renderer import JinjaEmailRenderer
from api.infrastructure.email.smtp import SmtpEmailSender
from api.infrastructure.jobs.heartbeats import RedisHeartbeats
from api.infrastructure.jobs.idempotency import RedisIdempotencyGuard
from api.infrastructure.jobs.queue import CeleryJobQueue
from api.infrastructure.persistence.failed_jobs import MongoFailedJobLog
from api.infrastructure.persistence.mongo import MongoClient, MongoPing
from api.infrastructure.persistence.outbound_email import BeanieOutboundEmailRepository
from api.infrastructure.persistence.tenant_directory import CachingTenantDirectory
from api.infrastructure.persistence.tenants import PlatformTenantRepository
from api.usecases.email import DeliverEmail, QueueEmail
from api.usecases.health import CheckCacheHealth, CheckDatabaseHealth
from api.usecases.jobs import CheckJobsHealth, ListFailedJobs, RecordFailedJob, RecordHeartbeat
from api.usecases.tenants import (
    CreateTenant,
    EnsureDefaultTenant,
    GetCurrentTenant,
    ListTenants,
    ResolveTenant,
    SetTenantStatus,
)

log = logging.getLogger(__name__)

USE_CASES: tuple[type, ...] = (
    CheckDatabaseHealth,
    CheckCacheHealth,
    CheckJobsHealth,
    CreateTenant,
    EnsureDefaultTenant,
    GetCurrentTenant,
    ListTenants,
    SetTenantStatus,
    QueueEmail,
    DeliverEmail,
    RecordFailedJob,
    ListFailedJobs,
    RecordHeartbeat,
)


def email_sender(settings: Settings) -> EmailSender:
    """SMTP when configured; else the outbox folder in development, a loud refusal otherwise."""
    if settings.smtp.host:
        return SmtpEmailSender(settings.smtp)
    if settings.is_production:
        log.warning("SMTP_HOST is not set: every email will fail (see failed jobs)")
        return UnconfiguredEmailSender()
    return OutboxEmailSender(
        settings.mail.outbox_dir,
        from_address=settings.smtp.from_address,
        from_name=settings.smtp.from_name,
    )


def build_container(
    settings: Settings, *, mongo: MongoClient, redis: Redis, celery: Celery
) -> punq.Container:
    container = punq.Container()
    container.register(Settings, instance=settings)
    container.register(Redis, instance=redis)

    # Ports -> adapters
    container.register(DatabasePing, instance=MongoPing(mongo))
    container.register(CachePing, instance=RedisPing(redis))
    tenants = PlatformTenantRepository()
    container.register(TenantRepository, instance=tenants)
    directory = CachingTenantDirectory(tenants, settings.tenancy.tenant_cache_ttl_seconds)
    container.register(TenantDirectory, instance=directory)
    container.register(JobQueue, instance=CeleryJobQueue(celery))
    container.register(IdempotencyGuard, instance=RedisIdempotencyGuard(redis))
    container.register(Heartbeats, instance=RedisHeartbeats(redis))
    failed_jobs = MongoFailedJobLog(settings.jobs.failed_jobs_retention_days)
    container.register(FailedJobLog, instance=failed_jobs)
    container.register(MongoFailedJobLog, instance=failed_jobs)
    container.register(OutboundEmailRepository, BeanieOutboundEmailRepository)
    container.register(EmailRenderer, instance=JinjaEmailRenderer())
    container.register(EmailSender, instance=email_sender(settings))

    # Use cases (ResolveTenant runs on every request: one shared, stateless instance)
    container.register(ResolveTenant, instance=ResolveTenant(directory))
    for use_case in USE_CASES:
        container.register(use_case)
    return container
