"""Celery processes for the jobs tests (worker, beat, Flower): their environment, which
points them at the tests' servers and makes retries fast, starting and stopping them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery

from api.config import JobSettings, Settings
from api.infrastructure.jobs.celery_app import create_celery
from tests.support.settings import ROOT, make_settings, redis_db

MAX_RETRIES = 2
SEND_ATTEMPTS = 4  # a send job's attempts: 130429 twice still ends sent


LLM_KEY = "sk-session-llm-key"
KNOWLEDGE_MODEL = "nomic-embed-text"  # the assistants' documents, at the fake's Ollama


def worker_env(
    mongo_url: str, redis_url: str, db_name: str, smtp_port: int, llm_url: str | None = None
) -> dict[str, str]:
    llm = (
        {"OLLAMA_HOST": llm_url, "OPENAI_BASE_URL": llm_url + "/v1", "OPENAI_API_KEY": LLM_KEY,
         "AI_MODELS_CACHE_SECONDS": "0", "KNOWLEDGE_EMBEDDING_MODEL": KNOWLEDGE_MODEL}
        if llm_url is not None
        else {}
    )  # fmt: skip
    return {
        **llm,
        **os.environ,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "MONGO_URI": mongo_url,
        "MONGO_DB_NAME": db_name,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_db(redis_url, 1),
        "CELERY_RESULT_BACKEND": redis_db(redis_url, 2),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_STARTTLS": "false",
        "SMTP_SSL": "false",
        "SMTP_VALIDATE_CERTS": "false",
        "SMTP_FROM": "parley@example.com",
        "JOB_MAX_RETRIES": str(MAX_RETRIES),
        "JOB_RETRY_BACKOFF_SECONDS": "0.2",
        "JOB_RETRY_BACKOFF_MAX_SECONDS": "0.5",
        "HEARTBEAT_INTERVAL_SECONDS": "1",
        "SEND_MAX_ATTEMPTS": str(SEND_ATTEMPTS),
        "WEBHOOK_CHANNEL_CACHE_SECONDS": "0",
        "SEND_CHANNEL_CACHE_SECONDS": "0",
        "SEND_RETRY_BACKOFF_SECONDS": "0.05",
        "SEND_RETRY_BACKOFF_MAX_SECONDS": "0.2",
    }


def start_celery(
    args: list[str], env: dict[str, str], log: Path, app: str = "api.worker:celery_app"
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", app, *args]
    return subprocess.Popen(  # noqa: S603 - our own command line
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def own_broker_settings(
    mongo_url: str, redis_url: str, db_name: str, broker: int, results: int
) -> Settings:
    """The tests' settings with jobs on Redis databases of a test's own (`broker`,
    `results`), so no other worker takes its jobs."""
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    return settings.model_copy(update={
        "jobs": JobSettings(_env_file=None, celery_broker_url=redis_db(redis_url, broker),
                            celery_result_backend=redis_db(redis_url, results)),
    })  # fmt: skip


@contextmanager
def broker_control(settings: Settings, main: str) -> Iterator[Celery]:
    """A Celery app on `settings`' broker, emptied first (a test's own databases only)."""
    app = create_celery(settings, main=main)
    app.connection_for_write().default_channel.client.flushdb()
    try:
        yield app
    finally:
        app.close()


def started_worker(
    args: list[str], env: dict[str, str], log: Path, control: Celery
) -> subprocess.Popen[bytes]:
    """A worker, once it answers `control`'s ping."""
    process = start_celery(args, env, log)
    deadline = time.monotonic() + 60
    while not control.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"the worker did not start:\n{log.read_text()[-3000:]}")
    return process
