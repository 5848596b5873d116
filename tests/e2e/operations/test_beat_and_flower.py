"""beat sends the heartbeat a worker runs (seen at /health/jobs); Flower behind basic auth."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import devservers
import httpx

from tests.support.app import serve
from tests.support.settings import make_settings
from tests.support.workers import start_celery, stop, worker_env


async def test_beat_heartbeat_makes_jobs_healthy(
    worker: Path, mongo_url: str, redis_url: str, db_name: str, smtp_port: int, tmp_path: Path
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    settings.jobs.heartbeat_interval_seconds = 1
    async with serve(settings) as http:
        before = await http.get("/health/jobs")
        assert before.status_code == 503
        assert before.json()["status"] == "unavailable"
        env = worker_env(mongo_url, redis_url, db_name, smtp_port)
        beat = start_celery(
            ["beat", "--loglevel=INFO"],
            env,
            tmp_path / "beat.log",
        )
        try:
            deadline = time.monotonic() + 90  # generous: CI is a busy 2-core machine
            while (response := await http.get("/health/jobs")).status_code != 200:
                assert beat.poll() is None, (tmp_path / "beat.log").read_text()
                assert time.monotonic() < deadline, "no heartbeat arrived"
                await asyncio.sleep(0.25)
        finally:
            stop(beat)
    body = response.json()
    assert body["status"] == "ok"
    assert body["age_seconds"] < 3


async def test_flower_needs_basic_auth_and_lists_tasks(
    worker: Path, mongo_url: str, redis_url: str, db_name: str, smtp_port: int, tmp_path: Path
) -> None:
    port = devservers.free_port()
    env = {
        **worker_env(mongo_url, redis_url, db_name, smtp_port),
        "FLOWER_BASIC_AUTH": "ops:s3cret-flower",
    }
    flower = start_celery(
        ["flower", "--address=127.0.0.1", f"--port={port}"], env, tmp_path / "flower.log"
    )
    try:
        devservers.wait_for_port("127.0.0.1", port, 90, flower)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert (await client.get("/api/workers")).status_code == 401
            wrong = await client.get("/api/workers", auth=("ops", "wrong"))
            assert wrong.status_code == 401
            deadline = time.monotonic() + 90  # generous: CI is a busy 2-core machine
            while True:
                workers = await client.get("/api/workers", auth=("ops", "s3cret-flower"))
                assert workers.status_code == 200
                if workers.json():
                    break
                assert time.monotonic() < deadline, "Flower never saw the worker"
                await asyncio.sleep(0.5)
            tasks = await client.get("/api/tasks", auth=("ops", "s3cret-flower"))
            assert tasks.status_code == 200
            assert isinstance(tasks.json(), dict)
    finally:
        stop(flower)
