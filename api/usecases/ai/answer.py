"""A started answer: the events of its generation, in batches, for the response to write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from api.domain.ai.values import FinishReason
from api.usecases.ai.events import (
    Failed,
    Finished,
    Items,
    KeepAlive,
    QueueItem,
    Started,
    StreamEvent,
    Token,
)
from api.usecases.ai.generation import Generation

_ENDS = (Finished, Failed)  # the last item of a generation


class Answer:
    """A started answer: `started`, then `events()` until `Finished` or `Failed`."""

    def __init__(
        self,
        started: Started,
        generation: Generation,
        first: list[QueueItem],
        keepalive: float,
    ) -> None:
        self.started = started
        self._generation = generation
        self._first = first  # what the generation gave before the answer started
        self._keepalive = keepalive

    def cancel(self) -> None:
        """The client went away: stop the upstream call; the partial reply is saved."""
        self._generation.cancel(FinishReason.DISCONNECTED)

    async def events(self) -> AsyncIterator[list[StreamEvent]]:
        """Events in batches: whatever is ready is given at once (one write per batch)."""
        items = self._generation.items
        batch: list[StreamEvent] = [self.started]
        ready = self._first
        keepalive = _KeepAlive(items, self._keepalive)
        try:
            while True:
                for item in ready:
                    batch.append(item)
                    if type(item) is not Token and isinstance(item, _ENDS):
                        yield batch
                        return
                if batch:
                    yield batch
                    batch = []
                ready = items.take()
                if not ready:
                    keepalive.waiting()
                    await items.wait()
                    ready = items.take()
        finally:
            keepalive.close()
            self.cancel()


class _KeepAlive:
    """Puts a `KeepAlive` among the items when the response has waited `seconds` for one.
    One timer, re-armed only when it fires: a timeout context around every wait (one a
    batch of tokens) cost more than the rest of the batch's bookkeeping."""

    def __init__(self, items: Items, seconds: float) -> None:
        self._items = items
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._since = self._loop.time()
        self._timer = self._loop.call_at(self._since + seconds, self._check)

    def waiting(self) -> None:
        """The response starts waiting for the next item now."""
        self._since = self._loop.time()

    def _check(self) -> None:
        now = self._loop.time()
        if now - self._since >= self._seconds and self._items.empty():
            self._items.put(KeepAlive())
            self._since = now
        self._timer = self._loop.call_at(self._since + self._seconds, self._check)

    def close(self) -> None:
        self._timer.cancel()
