"""Celery processes for the jobs tests (worker, beat, Flower): their environment, which
points them at the tests' servers and makes retries fast, starting and stopping them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.settings import ROOT, redis_db

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
