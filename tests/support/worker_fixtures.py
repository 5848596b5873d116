"""Session fixtures of a real Celery worker (threads pool, one process) consuming the
tests' Redis broker (db 1, results in db 2) with the same settings as the tests' apps,
and the SMTP server it sends mail to. Shared by every test directory (a pytest plugin,
named in `tests/conftest.py`), so one worker serves the whole session. Retries are made
fast (`JOB_RETRY_BACKOFF_SECONDS`, `SEND_RETRY_BACKOFF_SECONDS`: see `workers.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import devservers
import pytest
from celery import Celery

from api.infrastructure.jobs.celery_app import create_celery
from tests.support.fake_llm import FakeLLM, serve_fake_llm_in_thread
from tests.support.settings import make_settings
from tests.support.smtp import SmtpCapture, start_smtp
from tests.support.workers import start_celery, stop, worker_env


@pytest.fixture(scope="session")
def smtp_port() -> int:
    return devservers.free_port()


@pytest.fixture(scope="session")
def smtp_server(smtp_port: int) -> Iterator[SmtpCapture]:
    controller, capture = start_smtp(smtp_port)
    try:
        yield capture
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server: SmtpCapture) -> SmtpCapture:
    smtp_server.reset()
    return smtp_server


@pytest.fixture(scope="session")
def celery_client(redis_url: str) -> Iterator[Celery]:
    """A Celery app of the tests' own, for control commands and results."""
    settings = make_settings("mongodb://unused", redis_url, "unused")
    app = create_celery(settings, main="tests")
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="session")
def session_llm() -> Iterator[tuple[FakeLLM, str]]:
    """A fake LLM (Ollama + OpenAI) for the whole session, served from a thread so that
    the session's worker (another process) reaches it: (the fake, its base URL). The AI
    assistants' jobs call it; tests script it (`restore()` it first)."""
    fake = FakeLLM()
    with serve_fake_llm_in_thread(fake) as url:
        yield fake, url


@pytest.fixture(scope="session")
def worker(
    session_llm: tuple[FakeLLM, str],
    mongo_url: str,
    redis_url: str,
    db_name: str,
    smtp_port: int,
    smtp_server: SmtpCapture,
    celery_client: Celery,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """One prefork worker process for the session; yields its log file."""
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = worker_env(mongo_url, redis_url, db_name, smtp_port, llm_url=session_llm[1])
    process = start_celery(
        ["worker", "--pool=threads", "--concurrency=4", "--loglevel=INFO", "-n", "test@%h"],
        env,
        log,
    )
    try:
        deadline = time.monotonic() + 60
        while not celery_client.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log.read_text()[-3000:]}")
        yield log
    finally:
        stop(process)
