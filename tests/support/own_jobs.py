"""Jobs of a test's own, for the tests that hang, stop or kill a worker: Redis databases
for the broker and results that no other worker reads, a database of its own, the API and
real Celery workers on them, and an SMTP server of its own (a pytest plugin, named in
`tests/conftest.py`).

A test module says which Redis databases and database name prefix it takes:

    OWN_JOBS = OwnJobsOf(broker=12, results=13, prefix="hung")

and asks for `own_jobs` (the `OwnJobs`), `own_control` (a Celery app on its broker, emptied
first), `own_app` (the API on them) or `own_smtp`; its workers start with
`own_jobs.worker(...)`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import devservers
import pytest
from celery import Celery

from api.config import Settings
from tests.support.app import AppClient, serve
from tests.support.settings import redis_db
from tests.support.smtp import SmtpCapture, start_smtp
from tests.support.workers import (
    broker_control,
    own_broker_settings,
    started_worker,
    stop,
    worker_env,
)


@dataclass(frozen=True)
class OwnJobsOf:
    """What a module takes: its Redis databases (broker, results) and its database's prefix."""

    broker: int
    results: int
    prefix: str


@dataclass(frozen=True)
class OwnJobs:
    """A test's servers and its own broker, results and database."""

    of: OwnJobsOf
    mongo_url: str
    redis_url: str
    db: str

    def settings(self) -> Settings:
        return own_broker_settings(
            self.mongo_url, self.redis_url, self.db, self.of.broker, self.of.results
        )

    def worker_env(self, smtp_port: int = 1, **extra: str) -> dict[str, str]:
        """The session worker's environment on this test's broker, results and database,
        with `extra` settings."""
        return {
            **worker_env(self.mongo_url, self.redis_url, self.db, smtp_port),
            "CELERY_BROKER_URL": redis_db(self.redis_url, self.of.broker),
            "CELERY_RESULT_BACKEND": redis_db(self.redis_url, self.of.results),
            **extra,
        }

    def start_worker(
        self, env: dict[str, str], log: Path, control: Celery, name: str, threads: int
    ) -> Popen[bytes]:
        """A worker (threads pool) named `name`, once it answers `control`'s ping."""
        command = ["worker", "--pool=threads", f"--concurrency={threads}", "--loglevel=INFO",
                   "-n", name]  # fmt: skip
        return started_worker(command, env, log, control)

    @contextmanager
    def worker(
        self, env: dict[str, str], log: Path, control: Celery, name: str, threads: int
    ) -> Iterator[Popen[bytes]]:
        """`start_worker`, stopped afterwards."""
        process = self.start_worker(env, log, control, name, threads)
        try:
            yield process
        finally:
            stop(process)


@pytest.fixture
def own_jobs(request: pytest.FixtureRequest, mongo_url: str, redis_url: str) -> OwnJobs:
    of: OwnJobsOf = request.module.OWN_JOBS
    return OwnJobs(of, mongo_url, redis_url, f"{of.prefix}_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def own_control(own_jobs: OwnJobs) -> Iterator[Celery]:
    with broker_control(own_jobs.settings(), f"tests-{own_jobs.of.prefix}") as app:
        yield app


@pytest.fixture
async def own_app(own_jobs: OwnJobs) -> AsyncIterator[AppClient]:
    async with serve(own_jobs.settings()) as http:
        yield http


@pytest.fixture
def own_smtp() -> Iterator[tuple[SmtpCapture, int]]:
    """An SMTP server of the test's own: (what it captured, its port)."""
    port = devservers.free_port()
    controller, capture = start_smtp(port)
    try:
        yield capture, port
    finally:
        capture.hold_rcpt = False
        controller.stop()
