"""Two real beat processes (celery-redbeat, one lock in Redis): each periodic job is sent
once per interval, not once per beat, and the standby takes over when the holder dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from redis.asyncio import Redis

from api.infrastructure.jobs.celery_app import DEFAULT_QUEUE
from tests.support.settings import redis_db
from tests.support.workers import start_celery, stop, worker_env

T = TypeVar("T")

BROKER_DB = 5  # no worker consumes there: every job a beat sends stays queued, counted
PREFIX = "beat-lock-test:"
MAX_INTERVAL = 1  # BEAT_MAX_INTERVAL_SECONDS: a tick at least every second
LOCK_TIMEOUT = 4  # BEAT_LOCK_TIMEOUT_SECONDS
SENT = "Sending due task"  # what a beat logs for each job it sends
ACQUIRED = "beat: Acquired lock"


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float) -> T:
    """Poll `check` until it answers something (not None); generous deadlines only."""
    deadline = time.monotonic() + timeout
    while (value := await check()) is None:
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)
    return value


async def test_two_beats_send_each_periodic_job_once_and_a_standby_takes_over(
    mongo_url: str, redis_url: str, db_name: str, tmp_path: Path
) -> None:
    broker_url = redis_db(redis_url, BROKER_DB)
    env = {
        **worker_env(mongo_url, redis_url, db_name, smtp_port=1),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "HEARTBEAT_INTERVAL_SECONDS": "1",
        "BEAT_MAX_INTERVAL_SECONDS": str(MAX_INTERVAL),
        "BEAT_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT),
        "BEAT_KEY_PREFIX": PREFIX,
    }
    app_redis = Redis.from_url(redis_url, decode_responses=True)
    broker = Redis.from_url(broker_url, decode_responses=True)
    await broker.flushdb()
    logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
    beats = [start_celery(["beat", "--loglevel=INFO"], env, log) for log in logs]

    def text(n: int) -> str:
        return logs[n].read_text(errors="replace") if logs[n].exists() else ""

    def alive() -> None:
        for n, beat in enumerate(beats):
            assert beat.poll() is None, f"beat {n + 1} exited:\n{text(n)[-3000:]}"

    async def runs() -> int:
        """How many times the heartbeat was sent, by the beats' own (shared) record."""
        meta = await app_redis.hget(f"{PREFIX}heartbeat", "meta")
        return int(json.loads(meta).get("total_run_count", 0)) if meta else 0

    async def queued() -> int:
        return int(await broker.llen(DEFAULT_QUEUE))

    async def ran_at_least(count: int) -> int | None:
        alive()
        done = await runs()
        return done if done >= count else None

    try:
        # Both start; exactly one holds the lock and sends, the other waits.
        async def one_holder() -> int | None:
            alive()
            holding = [n for n in range(2) if ACQUIRED in text(n)]
            return holding[0] if len(holding) == 1 else None

        holder = await until(one_holder, "a beat holding the lock", 60)
        standby = 1 - holder
        await until(lambda: ran_at_least(5), "five heartbeats sent", 30)
        # One message per interval run, though two beats run (a job sent twice would
        # double the queue); the one being sent right now may lag the record by one.
        assert (await runs()) - (await queued()) in (0, 1)
        assert text(holder).count(SENT) >= 5
        assert SENT not in text(standby) and ACQUIRED not in text(standby)

        # The holder dies without releasing the lock: the standby takes over once the
        # lock has expired, and the job goes on being sent once per interval.
        os.killpg(beats[holder].pid, signal.SIGKILL)
        beats[holder].wait()
        killed_at, before = time.monotonic(), await runs()

        async def taken_over() -> float | None:
            assert beats[standby].poll() is None, text(standby)[-3000:]
            return time.monotonic() - killed_at if SENT in text(standby) else None

        took = await until(taken_over, "the standby sending", 60)
        assert took <= LOCK_TIMEOUT + MAX_INTERVAL + 3, f"took over after {took:.1f} s"
        await until(lambda: _at_least(runs, before + 3), "three more heartbeats", 30)
        assert (await runs()) - (await queued()) in (0, 1, 2)  # 2: one lost to the kill
    finally:
        for beat in beats:
            stop(beat)
        await app_redis.aclose()
        await broker.flushdb()
        await broker.aclose()


async def _at_least(count: Callable[[], Awaitable[int]], target: int) -> int | None:
    value = await count()
    return value if value >= target else None
