"""What an answer's stream is made of: `Started`, `Token`s, then `Finished` or `Failed`,
with `KeepAlive`s while the model is quiet."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from api.domain.ai.values import FinishReason, ModelInfo, TokenUsage
from api.domain.errors import ParleyError


@dataclass(frozen=True)
class Started:
    conversation_id: str
    message_id: str  # the assistant's reply (saved when it ends)
    user_message_id: str
    model: ModelInfo


@dataclass(frozen=True)
class Token:
    content: str


@dataclass(frozen=True)
class Finished:
    message_id: str | None  # None: the model said nothing, so nothing was saved
    usage: TokenUsage
    partial: bool
    finish_reason: FinishReason


@dataclass(frozen=True)
class Failed:
    error: ParleyError
    message_id: str | None  # the partial reply saved before the failure, if any
    before_first_token: bool


@dataclass(frozen=True)
class KeepAlive:
    pass


StreamEvent = Started | Token | Finished | Failed | KeepAlive
GenerationItem = Token | Finished | Failed  # what a generation gives (`Items`)
QueueItem = GenerationItem | KeepAlive  # and the answer's keep-alives (`Answer.events`)


class Items:
    """A generation's items on their way to its answer: put without waiting, taken all at
    once by one reader at a time. Lighter than an `asyncio.Queue`, whose `get` per token
    (and the wake-up of its reader per item) cost more than the rest of the hop: the
    reader is woken once per batch of ready items."""

    def __init__(self) -> None:
        self._items: list[QueueItem] = []
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: QueueItem) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def take(self) -> list[QueueItem]:
        """Every item ready now, in order (none: an empty list)."""
        items, self._items = self._items, []
        return items

    async def wait(self) -> None:
        """Until there is an item to take."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
