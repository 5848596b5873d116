"""`Behind`: blocking calls one step behind the loop, in order, never left running unseen."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.common.behind import Behind


async def test_calls_run_in_order_in_a_thread_while_the_caller_goes_on() -> None:
    behind = Behind()
    seen: list[tuple[int, str]] = []
    loop_thread = threading.current_thread().name

    def step(number: int) -> None:
        time.sleep(0.01)
        seen.append((number, threading.current_thread().name))

    for number in range(5):
        await behind.submit(step, number)
    assert len(seen) <= 4  # the last call is still in flight when submit returns
    await behind.wait()
    assert [number for number, _ in seen] == [0, 1, 2, 3, 4]
    assert all(thread != loop_thread for _, thread in seen)


async def test_an_error_is_raised_by_the_next_submit_or_wait() -> None:
    behind = Behind()

    def fail() -> None:
        raise OSError("disk full")

    await behind.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        await behind.submit(print, "never")
    await behind.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        await behind.wait()


async def test_a_cancelled_caller_leaves_the_call_for_settle_to_wait_on() -> None:
    behind = Behind()
    release = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        release.wait(10)
        finished.set()

    async def caller() -> None:
        try:
            await behind.submit(slow)
            await behind.wait()
        finally:
            await behind.settle()

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # settle is waiting for the thread, not gone under it
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()
