"""Open and close what a Parley process needs: clients, Beanie, the container.

Shared by the API's lifespan, the operator CLI and (later) the worker, so every process
starts the same way: one Mongo client and one Redis pool per process, created here and
closed here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import punq
from celery import Celery

from api.config import Settings
from api.container import build_container
from api.infrastructure.ai.catalog import ProviderChatModels
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.cache.stop_signals import RedisStopSignals
from api.infrastructure.jobs.celery_app import create_celery
from api.infrastructure.persistence.audit.entries import MongoAuditLog
from api.infrastructure.persistence.base.documents import DOCUMENT_MODELS
from api.infrastructure.persistence.base.mongo import create_mongo_client, init_database
from api.infrastructure.persistence.operations.failed_jobs import MongoFailedJobLog


@asynccontextmanager
async def running(
    settings: Settings, *, celery: Celery | None = None
) -> AsyncIterator[punq.Container]:
    """Connect, bind the documents (waiting for the database), yield the container, close.

    `celery` is the worker's own app; other processes get one for publishing jobs.
    """
    own_celery = celery is None
    publisher = celery or create_celery(settings, results=False)
    mongo = create_mongo_client(
        settings.mongo.uri,
        server_selection_timeout_ms=settings.mongo.server_selection_timeout_ms,
        connect_timeout_ms=settings.mongo.connect_timeout_ms,
        socket_timeout_ms=settings.mongo.socket_timeout_ms,
        max_pool_size=settings.mongo.max_pool_size,
    )
    redis = create_redis(
        settings.redis.resolved_url,
        socket_timeout=settings.redis.socket_timeout_seconds,
        max_connections=settings.redis.max_connections,
    )
    container: punq.Container | None = None
    try:
        await init_database(
            mongo,
            settings.mongo.db_name,
            DOCUMENT_MODELS,
            wait_seconds=settings.mongo.startup_timeout_seconds,
        )
        container = build_container(settings, mongo=mongo, redis=redis, celery=publisher)
        await container.resolve(MongoFailedJobLog).ensure_retention()
        await container.resolve(MongoAuditLog).ensure_retention()
        yield container
    finally:
        if container is not None:
            await container.resolve(RedisStopSignals).close()
            await container.resolve(ProviderChatModels).close()
        if own_celery:
            await asyncio.to_thread(publisher.close)
        await redis.aclose()
        await mongo.close()
