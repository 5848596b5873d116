"""`GroupCommit`: what many coroutines write at the same moment, written in one round trip.

A busy webhook endpoint stores hundreds of deliveries a second, one small write each, and
the database's cost is mostly per command, not per document (SecantusDB: about 0.9 ms of
its CPU for one insert into `webhook_events`, 0.35 ms per document in a batch of 16;
bench/README.md). `submit(item)` queues the item and waits for its own result; a flush
takes everything queued so far (at most `max_batch`) and writes it with one call. At most
`max_in_flight` flushes run at once, so under load the items arriving during a flush wait
for the next one and batches grow by themselves (group commit), while a lone item is
written at once: no timer, no added wait.

`flush(items)` answers one result per item, in order, or an exception for the items that
failed on their own; an exception it raises fails every item of that batch. A caller that
is cancelled does not cancel its batch (the others still need it): its item is written or
not, as if the caller had been cancelled just after (or before) a write of its own. State
is kept per event loop, so one instance serves a process whatever loop its callers run on.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


@dataclass
class _LoopState(Generic[T, R]):
    queued: list[tuple[T, asyncio.Future[R]]] = field(default_factory=list)
    in_flight: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class GroupCommit(Generic[T, R]):
    def __init__(self, flush: Flush[T, R], *, max_batch: int = 64, max_in_flight: int = 2) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState[T, R]] = (
            weakref.WeakKeyDictionary()
        )

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState()
        future: asyncio.Future[R] = loop.create_future()
        state.queued.append((item, future))
        if state.in_flight < self._max_in_flight:
            state.in_flight += 1
            task = loop.create_task(self._drain(state))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
        return await future  # a cancelled caller leaves its batch alone (it runs in a task)

    async def _drain(self, state: _LoopState[T, R]) -> None:
        try:
            while state.queued:
                batch = state.queued[: self._max_batch]
                del state.queued[: self._max_batch]
                await self._write(batch)
        finally:
            state.in_flight -= 1

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"flush answered {len(results)} results for {len(batch)}")
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
