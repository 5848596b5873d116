"""Celery processes for the jobs tests (worker, beat, Flower): their environment, which
points them at the tests' servers and makes retries fast, starting and stopping them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery
from redis.asyncio import Redis

from api.config import JobSettings, Settings
from api.infrastructure.jobs.celery_app import create_celery
from api.infrastructure.metrics.jobs import RedisJobOutcomes
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
        "PLAN_CACHE_SECONDS": "0",
        "SEND_RETRY_BACKOFF_SECONDS": "0.05",
        "SEND_RETRY_BACKOFF_MAX_SECONDS": "0.2",
    }


async def runs_ended(redis: Redis, task: str, runs: int, seconds: float = 60) -> dict[str, int]:
    """Wait until at least `runs` runs of `task` have ended in the workers, and give their
    outcomes. A worker counts each run's outcome (`succeeded`, `failed`, `retried`, ...)
    in `JobOutcomes` once the run returned, in the app's Redis (emptied before each test;
    a job another test left queued counts too: `job_runs_logged` names the job)."""
    outcomes = RedisJobOutcomes(redis)
    deadline = time.monotonic() + seconds
    while True:
        counts = {o: n for (t, o), n in (await outcomes.counts()).items() if t == task}
        if sum(counts.values()) >= runs:
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"{runs} runs of {task} did not end within {seconds} s: {counts}")
        await asyncio.sleep(0.05)


async def job_runs_logged(log: Path, job_id: str, runs: int, seconds: float = 60) -> None:
    """Wait until the worker whose log is `log` logged the end of `runs` runs of the job
    `job_id` (Celery's trace line of each run that returned, whatever its outcome)."""
    ended = re.compile(
        rf"celery\.app\.trace .*\[{re.escape(job_id)}\] (succeeded|retry|raised|ignored|rejected)"
    )
    deadline = time.monotonic() + seconds
    while True:
        text = await asyncio.to_thread(log.read_text, errors="replace")
        found = len(ended.findall(text))
        if found >= runs:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{found} of {runs} runs of job {job_id} ended in {seconds} s")
        await asyncio.sleep(0.05)


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
