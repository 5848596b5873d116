"""Settings for tests, independent of any `.env` file or stray environment, and the
repository's root (for subprocesses that run our modules)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from api.config import (
    AiSettings,
    AuthSettings,
    Environment,
    JobSettings,
    MailSettings,
    MetaSettings,
    MetricsSettings,
    MongoSettings,
    RedisSettings,
    SecuritySettings,
    ServerSettings,
    Settings,
    SmtpSettings,
    StorageSettings,
    TelegramSettings,
    TenancySettings,
    WhatsAppSettings,
)
from api.config.plans import PlanSettings

ROOT = Path(__file__).resolve().parents[2]

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "platform-admin-pw-1"

# (Mongo URL, database) pairs whose indexes the session made (`indexed_database`): an app
# started on one skips creating them (~60 ms of each start). No test drops an index; on
# any other database the app makes its own.
INDEXED_DATABASES: set[tuple[str, str]] = set()


def redis_db(url: str, db: int) -> str:
    """The same Redis server, another database (jobs live apart from the app's keys)."""
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def make_settings(mongo_url: str, redis_url: str, db_name: str, **tenancy: Any) -> Settings:
    """Settings for tests, independent of any `.env` file or stray environment: a copy of
    their own (tests change them), of the settings built once per arguments and environment
    (building them reads the environment for some 20 sections: ~10 ms, twice a test)."""
    indexed = (mongo_url, db_name) in INDEXED_DATABASES
    key = (mongo_url, redis_url, db_name, indexed, frozenset(os.environ.items()))
    return _built(*key, tuple(tenancy.items())).model_copy(deep=True)


@lru_cache(maxsize=64)
def _built(
    mongo_url: str,
    redis_url: str,
    db_name: str,
    indexed: bool,
    environment: frozenset[tuple[str, str]],
    tenancy: tuple[tuple[str, Any], ...],
) -> Settings:
    return Settings(
        _env_file=None,
        environment=Environment.TEST,
        log_level="WARNING",
        # A channel changed by a test reaches its webhooks and sends at once.
        webhook_channel_cache_seconds=0,
        send_channel_cache_seconds=0,
        mongo=MongoSettings(
            _env_file=None,
            uri=mongo_url,
            db_name=db_name,
            server_selection_timeout_ms=1500,
            connect_timeout_ms=1000,
            socket_timeout_ms=3000,
            startup_timeout_seconds=10,
            # The suite's throwaway servers need no journal round per write (the fast mode;
            # tests/e2e/kernel/test_durability.py runs the production setting).
            write_journal=False,
            create_indexes=not indexed,
        ),
        redis=RedisSettings(_env_file=None, url=redis_url, socket_timeout_seconds=1.0),
        security=SecuritySettings(
            _env_file=None, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
        ),
        auth=AuthSettings(
            _env_file=None, argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1
        ),
        tenancy=TenancySettings(_env_file=None, **dict(tenancy)),
        smtp=SmtpSettings(_env_file=None),
        mail=MailSettings(_env_file=None),
        jobs=JobSettings(
            _env_file=None,
            celery_broker_url=redis_db(redis_url, 1),
            celery_result_backend=redis_db(redis_url, 2),
        ),
        ai=AiSettings(_env_file=None),
        # The test session's moto and Azurite servers listen on this host's free ports.
        storage=StorageSettings(_env_file=None, storage_allowed_endpoints=["http://127.0.0.1"]),
        metrics=MetricsSettings(_env_file=None),
        # Tests point channels at local fakes on free ports.
        whatsapp=WhatsAppSettings(_env_file=None, allowed_graph_base_urls=["*"]),
        telegram=TelegramSettings(_env_file=None, allowed_api_base_urls=["*"]),
        meta=MetaSettings(_env_file=None),
        server=ServerSettings(_env_file=None),
        # A plan changed by a test applies at once in every container (API, worker).
        plans=PlanSettings(_env_file=None, plan_cache_seconds=0),
    )
