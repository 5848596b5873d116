"""Backoff, the periodic schedule and the long-lived loop thread."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from api.common.loop_thread import LoopThread
from api.interfaces.jobs.base import backoff
from api.interfaces.jobs.schedule import beat_schedule, periodic
from tests.support.settings import make_settings


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt in range(8):
        values = {backoff(attempt, 2.0, 60.0) for _ in range(50)}
        ceiling = min(60.0, 2.0 * 2**attempt)
        assert all(1.0 <= v <= ceiling for v in values)
        assert len(values) > 1  # jittered
    assert max(backoff(30, 2.0, 60.0) for _ in range(50)) <= 60.0


def test_heartbeat_is_scheduled_from_settings() -> None:
    settings = make_settings("mongodb://x", "redis://x:1/0", "db")
    settings.jobs.heartbeat_interval_seconds = 7
    schedule = beat_schedule(settings)
    assert schedule["heartbeat"]["task"] == "parley.heartbeat"
    assert schedule["heartbeat"]["schedule"] == 7
    with pytest.raises(ValueError, match="twice"):
        periodic("heartbeat", "parley.heartbeat", lambda s: 1.0)


def test_loop_thread_runs_coroutines_on_one_loop() -> None:
    loop_thread = LoopThread("test-loop")
    try:

        async def where() -> tuple[int, int]:
            return id(asyncio.get_running_loop()), threading.get_ident()

        first, second = loop_thread.run(where()), loop_thread.run(where())
        assert first == second  # same loop, same thread, every time
        assert first[1] != threading.get_ident()
        with pytest.raises(ZeroDivisionError):
            loop_thread.run(_boom())
        assert loop_thread.usable and loop_thread._pid == os.getpid()
    finally:
        loop_thread.stop()
    assert not loop_thread.usable


async def _boom() -> None:
    raise ZeroDivisionError


def test_loop_thread_cancels_work_on_timeout() -> None:
    loop_thread = LoopThread("test-loop")
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        with pytest.raises(TimeoutError):
            loop_thread.run(slow(), timeout=0.1)
        assert cancelled.wait(2)
    finally:
        loop_thread.stop()


def test_beat_wakes_snoozed_conversations_at_the_configured_interval() -> None:
    settings = make_settings("mongodb://unused", "redis://unused", "unused")
    settings.snooze_wake_interval_seconds = 12
    entry = beat_schedule(settings)["snooze-wake"]
    assert entry["task"] == "parley.inbox.wake_snoozed"
    assert entry["schedule"] == 12 and entry["options"]["expires"] == 12
