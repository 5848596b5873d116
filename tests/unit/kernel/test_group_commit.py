"""GroupCommit: concurrent items written together, each caller answered with its own
result or error, batches bounded, cancellation and failures contained."""

from __future__ import annotations

import asyncio

import pytest

from api.common.group_commit import GroupCommit


class Recorder:
    """A flush that records its batches and, while `gate` is clear, holds them."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_items: set[int] = set()
        self.fail_batch = False

    async def flush(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_batch:
            raise ConnectionError("down")
        return [ValueError(f"bad {i}") if i in self.fail_items else i * 10 for i in items]


async def test_a_lone_item_is_written_at_once() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.flush)
    assert await commit.submit(1) == 10
    assert recorder.batches == [[1]]


async def test_items_arriving_during_a_flush_go_together_in_the_next() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commit = GroupCommit(recorder.flush, max_in_flight=1)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0)
    others = [asyncio.create_task(commit.submit(i)) for i in range(1, 11)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == 0
    assert [await task for task in others] == [i * 10 for i in range(1, 11)]
    assert recorder.batches == [[0], list(range(1, 11))]


async def test_batches_are_bounded_and_run_at_most_max_in_flight_at_once() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commit = GroupCommit(recorder.flush, max_batch=3, max_in_flight=2)
    tasks = [asyncio.create_task(commit.submit(i)) for i in range(8)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(recorder.batches) == 2  # two flushes running, the rest waiting
    recorder.gate.set()
    assert [await task for task in tasks] == [i * 10 for i in range(8)]
    assert all(len(batch) <= 3 for batch in recorder.batches)
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(8))


async def test_an_item_that_fails_fails_only_its_caller() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    recorder.fail_items = {2}
    commit = GroupCommit(recorder.flush, max_in_flight=1)
    tasks = [asyncio.create_task(commit.submit(i)) for i in range(4)]
    await asyncio.sleep(0)
    recorder.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == 0 and results[1] == 10 and results[3] == 30
    assert isinstance(results[2], ValueError)


async def test_a_failed_flush_fails_its_batch_and_the_next_batch_is_written() -> None:
    recorder = Recorder()
    recorder.fail_batch = True
    commit = GroupCommit(recorder.flush)
    with pytest.raises(ConnectionError):
        await commit.submit(1)
    recorder.fail_batch = False
    assert await commit.submit(2) == 20


async def test_a_cancelled_caller_leaves_its_batch_to_the_others() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commit = GroupCommit(recorder.flush, max_in_flight=1)
    tasks = [asyncio.create_task(commit.submit(i)) for i in range(3)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await tasks[1] == 10 and await tasks[2] == 20
    assert tasks[0].cancelled()
    assert recorder.batches == [[0, 1, 2]]  # its item was written all the same


async def test_a_flush_answering_the_wrong_number_of_results_fails_the_batch() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    commit = GroupCommit(short)
    with pytest.raises(RuntimeError, match="results"):
        await commit.submit(1)


def test_one_instance_serves_several_event_loops() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.flush)

    async def submit(item: int) -> int:
        recorder.gate = asyncio.Event()
        recorder.gate.set()
        return await commit.submit(item)

    assert asyncio.run(submit(1)) == 10
    assert asyncio.run(submit(2)) == 20


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(Recorder().flush, max_batch=0)
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(Recorder().flush, max_in_flight=0)
