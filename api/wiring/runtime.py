"""Open and close what a Parley process needs: clients, Beanie, the container.

Shared by the API's lifespan, the Celery worker processes and the operator CLI, so every
process starts the same way: one Mongo client and one Redis pool per process, created here
and closed here. What else needs starting or closing is found through the lifecycle ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import punq
from celery import Celery
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.common.background import drain_background
from api.config import Settings
from api.domain.lifecycle import Closeable, Listener, Startable
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.jobs.celery_app import create_celery
from api.infrastructure.persistence.base.documents import DOCUMENT_MODELS
from api.infrastructure.persistence.base.mongo import create_mongo_client, init_database
from api.wiring.root import build_container

# The longest a stopping process waits for its background tasks (`drain_background`): a
# send's `sent` record tries again for about 16 s when the database is away.
BACKGROUND_DRAIN_SECONDS = 30.0

# Driver errors that mean a server is down, by the dependency named in the 503 answer.
UNAVAILABLE_ERRORS: dict[type[Exception], str] = {
    ConnectionFailure: "database",
    RedisConnectionError: "cache",
    RedisTimeoutError: "cache",
}


def _registered(container: punq.Container, port: Any) -> list[Any]:
    # punq types `resolve_all` for concrete classes; the lifecycle ports are Protocols.
    return container.resolve_all(port)


def start_listeners(container: punq.Container) -> None:
    """Start the background `Listener`s: the API process only (the worker and CLI don't)."""
    listeners: list[Listener] = _registered(container, Listener)
    for listener in listeners:
        listener.start()


@asynccontextmanager
async def running(
    settings: Settings, *, celery: Celery | None = None
) -> AsyncIterator[punq.Container]:
    """Connect, bind the documents (waiting for the database), start what is `Startable`,
    yield the container, then wait for the background tasks (`drain_background`), close
    what is `Closeable` and the clients.

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
        write_concern=settings.mongo.w,
        journal=settings.mongo.write_journal,
        read_concern=settings.mongo.read_concern,
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
            create_indexes=settings.mongo.create_indexes,
        )
        container = build_container(settings, mongo=mongo, redis=redis, celery=publisher)
        startables: list[Startable] = _registered(container, Startable)
        for startable in startables:
            await startable.start()
        yield container
    finally:
        # What was started without being waited for (a send's `sent` record among them)
        # ends first, while the clients it uses are still open.
        await drain_background(BACKGROUND_DRAIN_SECONDS)
        if container is not None:
            closeables: list[Closeable] = _registered(container, Closeable)
            for closeable in closeables:
                await closeable.close()
        if own_celery:
            await asyncio.to_thread(publisher.close)
        await redis.aclose()
        await mongo.close()
