"""A real Celery worker killed (SIGKILL) in the middle of an import, then a new one
started: the sweeper hands the import to it once the dead worker's lease has expired,
and the import finishes with every row settled exactly once, no duplicate contact and
the counts a run without a crash gives. The progress is read over HTTP while it runs.

The worker and the app use brokers of their own (Redis dbs 6 and 7), so the session's
worker never takes these jobs; small chunks (50 rows) and a short lease (2 s) make the
crash land mid-import and the take-over quick."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from api.config import ImportSettings, JobSettings, Settings
from api.infrastructure.jobs.celery_app import create_celery
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.messaging.contact_imports import SWEEP_IMPORTS_JOB
from tests.support.app import AppClient, serve
from tests.support.imports import IMPORTS, csv_bytes, started
from tests.support.people import two_tenants
from tests.support.settings import make_settings, redis_db
from tests.support.workers import start_celery, stop, worker_env

ROWS = 6000
BATCH = 50
LEASE_SECONDS = 2


def crash_settings(mongo_url: str, redis_url: str, db_name: str) -> Settings:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    return settings.model_copy(update={
        "jobs": JobSettings(_env_file=None, celery_broker_url=redis_db(redis_url, 6),
                            celery_result_backend=redis_db(redis_url, 7)),
        "imports": ImportSettings(_env_file=None, batch_size=BATCH,
                                  lease_seconds=LEASE_SECONDS),
    })  # fmt: skip


class Workers:
    """Starts workers on the crash test's brokers, one at a time."""

    def __init__(self, env: dict[str, str], logs: Path, control: Celery) -> None:
        self.env, self.logs, self.control = env, logs, control
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.started)}.log"
        command = ["worker", "--pool=threads", "--concurrency=2", "--loglevel=INFO",
                   "-n", f"crash{len(self.started)}@%h"]  # fmt: skip
        process = start_celery(command, self.env, log)
        self.started.append(process)
        deadline = time.monotonic() + 60
        while not self.control.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log.read_text()[-3000:]}")
        return process


@pytest.fixture
def workers(mongo_url: str, redis_url: str, db_name: str, tmp_path: Path) -> Iterator[Workers]:
    control = create_celery(crash_settings(mongo_url, redis_url, db_name), main="tests-crash")
    env = {
        **worker_env(mongo_url, redis_url, db_name, 1),
        "CELERY_BROKER_URL": redis_db(redis_url, 6),
        "CELERY_RESULT_BACKEND": redis_db(redis_url, 7),
        "IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    started = Workers(env, tmp_path, control)
    try:
        yield started
    finally:
        for process in started.started:
            stop(process)
        control.close()


@pytest.fixture
async def app(mongo_url: str, redis_url: str, db_name: str) -> AsyncIterator[AppClient]:
    async with serve(crash_settings(mongo_url, redis_url, db_name)) as http:
        yield http


def phone(i: int) -> str:
    """Every 10th row repeats the number of the row before it (a later update)."""
    return f"+1650{2_000_000 + (i - 1 if i % 10 == 9 else i):07d}"


def the_file() -> tuple[bytes, dict[str, int], int]:
    """The file, the counts a clean run gives, and how many contacts it makes."""
    rows: list[list[Any]] = [["Phone", "Name", "Tags"]]
    counts = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    seen: set[str] = set()
    for i in range(ROWS):
        if i % 50 == 49:
            rows.append(["", "", ""])
            counts["skipped"] += 1
        elif i % 97 == 13:
            rows.append(["12345", f"Bad {i}", ""])
            counts["failed"] += 1
        else:
            rows.append([phone(i), f"Person {i}", f"batch{i % 3}"])
            counts["updated" if phone(i) in seen else "created"] += 1
            seen.add(phone(i))
    return csv_bytes(rows), counts, len(seen)


async def progress(app: AppClient, headers: dict[str, str], import_id: str) -> dict[str, Any]:
    response = await app.get(f"{IMPORTS}/{import_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_worker_killed_mid_import_loses_and_repeats_no_row(
    app: AppClient, workers: Workers, mongo_client: MongoClient, db_name: str
) -> None:
    _, owner, _, _ = await two_tenants(app)
    content, counts, contacts = the_file()
    first = workers.start()
    queued = await started(app, owner, content, {"Phone": "phone", "Name": "name",
                                                 "Tags": "tags"})  # fmt: skip

    # Progress is readable while it runs; once a tenth of the rows are in, kill the worker.
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while True:
        now = await progress(app, owner, queued["id"])
        seen.append(now["processed_rows"])
        if now["processed_rows"] >= ROWS // 10:
            break
        assert time.monotonic() < deadline, f"no progress: {now}"
        await asyncio.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert seen == sorted(seen)
    killed = await progress(app, owner, queued["id"])
    assert killed["status"] == "running" and killed["total_rows"] == ROWS
    assert ROWS // 10 <= killed["processed_rows"] < ROWS, "the worker finished before the kill"

    # A new worker; the sweeper gives it the import once the dead worker's lease is over.
    workers.start()
    deadline = time.monotonic() + 180
    while (now := await progress(app, owner, queued["id"]))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"the import was not taken over: {now}"
        workers.control.send_task(SWEEP_IMPORTS_JOB)
        await asyncio.sleep(LEASE_SECONDS / 2)

    assert now["status"] == "done", now
    assert now["total_rows"] == now["processed_rows"] == ROWS
    assert {k: now[k] for k in counts} == counts
    database = mongo_client[db_name]
    stored = await database["contact_imports"].find_one({"filename": "contacts.csv"})
    assert stored is not None and stored["attempts"] >= 2  # the dead worker's run, then more
    rows = [
        result["row"]
        async for chunk in database["contact_import_rows"].find({"import_id": queued["id"]})
        for result in chunk["results"]
    ]
    assert sorted(rows) == list(range(2, ROWS + 2))  # each row exactly once
    tenant = owner["X-Tenant-ID"]
    assert await database["contacts"].count_documents({"tenant_id": tenant}) == contacts
    phones = await database["contacts"].distinct("phone", {"tenant_id": tenant})
    assert len(phones) == contacts
    person = await database["contacts"].find_one({"tenant_id": tenant, "phone": phone(8)})
    assert person is not None and person["name"] == "Person 9"  # the later row won
