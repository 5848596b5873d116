"""A real worker (with a counting handler, `tests.support.webhook_worker`) on brokers of
its own (Redis dbs 3 and 4, so no other test worker takes its jobs), and the app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from celery import Celery

from api.config import JobSettings, Settings, WhatsAppSettings
from api.infrastructure.jobs.celery_app import create_celery
from tests.support.app import AppClient, serve
from tests.support.settings import make_settings, redis_db
from tests.support.workers import start_celery, stop, worker_env

PLATFORM_SECRET = "platform-app-secret-0123"
PLATFORM_VERIFY = "platform-verify-token"


def webhook_settings(mongo_url: str, redis_url: str, db_name: str) -> Settings:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    return settings.model_copy(
        update={
            "jobs": JobSettings(
                _env_file=None,
                celery_broker_url=redis_db(redis_url, 3),
                celery_result_backend=redis_db(redis_url, 4),
            ),
            "whatsapp": WhatsAppSettings(
                _env_file=None, app_secret=PLATFORM_SECRET, verify_token=PLATFORM_VERIFY
            ),
            "max_webhook_body_bytes": 64 * 1024,
        }
    )


@pytest.fixture(scope="session")
def webhook_worker(
    mongo_url: str, redis_url: str, db_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Celery]:
    settings = webhook_settings(mongo_url, redis_url, db_name)
    control = create_celery(settings, main="tests-webhooks")
    log = tmp_path_factory.mktemp("webhook-worker") / "worker.log"
    env = {
        **worker_env(mongo_url, redis_url, db_name, 1),
        "CELERY_BROKER_URL": redis_db(redis_url, 3),
        "CELERY_RESULT_BACKEND": redis_db(redis_url, 4),
        "WHATSAPP_APP_SECRET": PLATFORM_SECRET,
        "WHATSAPP_VERIFY_TOKEN": PLATFORM_VERIFY,
        "WEBHOOK_SWEEP_AFTER_SECONDS": "1",
    }
    command = ["worker", "--pool=threads", "--concurrency=8", "--loglevel=INFO", "-n", "wh@%h"]
    process = start_celery(command, env, log, app="tests.support.webhook_worker:celery_app")
    try:
        deadline = time.monotonic() + 60
        while not control.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log.read_text()[-3000:]}")
        yield control
    finally:
        stop(process)
        control.close()


@pytest.fixture
async def app(
    webhook_worker: Celery, mongo_url: str, redis_url: str, db_name: str
) -> AsyncIterator[AppClient]:
    async with serve(webhook_settings(mongo_url, redis_url, db_name)) as http:
        yield http
