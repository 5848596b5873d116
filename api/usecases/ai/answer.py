"""A started answer: the events of its generation, in batches, for the response to write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from api.domain.ai.values import FinishReason
from api.usecases.ai.events import (
    Failed,
    Finished,
    GenerationItem,
    KeepAlive,
    QueueItem,
    Started,
    StreamEvent,
)
from api.usecases.ai.generation import Generation


class Answer:
    """A started answer: `started`, then `events()` until `Finished` or `Failed`."""

    def __init__(
        self,
        started: Started,
        generation: Generation,
        first: GenerationItem | None,
        keepalive: float,
    ) -> None:
        self.started = started
        self._generation = generation
        self._first = first
        self._keepalive = keepalive

    def cancel(self) -> None:
        """The client went away: stop the upstream call; the partial reply is saved."""
        self._generation.cancel(FinishReason.DISCONNECTED)

    async def events(self) -> AsyncIterator[list[StreamEvent]]:
        """Events in batches: whatever is ready is given at once (one write per batch)."""
        queue = self._generation.queue
        batch: list[StreamEvent] = [self.started]
        pending: QueueItem | None = self._first
        keepalive = _KeepAlive(queue, self._keepalive)
        try:
            while True:
                if pending is None:
                    if batch:
                        yield batch
                        batch = []
                    keepalive.waiting()
                    pending = await queue.get()
                batch.append(pending)
                if isinstance(pending, Finished | Failed):
                    break
                pending = queue.get_nowait() if not queue.empty() else None
            yield batch
        finally:
            keepalive.close()
            self.cancel()


class _KeepAlive:
    """Puts a `KeepAlive` on the queue when the response has waited `seconds` on an empty
    one. One timer, re-armed only when it fires: a timeout context around every wait (one
    a batch of tokens) cost more than the rest of the batch's bookkeeping."""

    def __init__(self, queue: asyncio.Queue[QueueItem], seconds: float) -> None:
        self._queue = queue
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._since = self._loop.time()
        self._timer = self._loop.call_at(self._since + seconds, self._check)

    def waiting(self) -> None:
        """The response starts waiting for the next item now."""
        self._since = self._loop.time()

    def _check(self) -> None:
        now = self._loop.time()
        if now - self._since >= self._seconds and self._queue.empty():
            self._queue.put_nowait(KeepAlive())
            self._since = now
        self._timer = self._loop.call_at(self._since + self._seconds, self._check)

    def close(self) -> None:
        self._timer.cancel()
