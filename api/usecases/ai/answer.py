"""A started answer: the events of its generation, in batches, for the response to write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from api.domain.ai.values import FinishReason
from api.usecases.ai.events import Failed, Finished, GenerationItem, KeepAlive, Started, StreamEvent
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
        pending = self._first
        try:
            while True:
                if pending is None:
                    if batch:
                        yield batch
                        batch = []
                    try:
                        async with asyncio.timeout(self._keepalive):
                            pending = await queue.get()
                    except TimeoutError:
                        batch.append(KeepAlive())
                        continue
                batch.append(pending)
                if isinstance(pending, Finished | Failed):
                    break
                pending = queue.get_nowait() if not queue.empty() else None
            yield batch
        finally:
            self.cancel()
