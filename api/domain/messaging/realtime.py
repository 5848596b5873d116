"""Real-time inbox events: what agents' sockets receive as things happen.

Use cases publish an `InboxEvent` after the change is stored (a message created or moved
on, a conversation opened or changed, an agent's presence); the adapter appends it to the
tenant's event log, from which every API replica fans it out to its sockets and a
reconnecting socket replays what it missed (by the event's cursor).

Publishing is best effort by contract: the change is already stored, so an event that
cannot be written is logged and dropped, never raised into the use case (a client that
missed it re-reads the conversation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from api.domain.errors import InvalidInput, ParleyError
from api.domain.messaging.conversations import Conversation
from api.domain.messaging.messages import Message


class InboxEventType(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    PRESENCE_UPDATED = "presence.updated"


class InboxEvent(BaseModel):
    """One event of a tenant's inbox. `data` is the entity as JSON (a `Message`, a
    `Conversation`, an agent's presence), shaped for clients by the socket layer;
    `conversation_id` names the conversation it belongs to (None for presence)."""

    model_config = ConfigDict(frozen=True)

    type: InboxEventType
    tenant_id: str
    conversation_id: str | None = None
    data: dict[str, Any]

    @classmethod
    def of_message(cls, type: InboxEventType, message: Message) -> InboxEvent:
        if message.tenant_id is None:
            raise ValueError("a stored message is needed")
        return cls(
            type=type,
            tenant_id=message.tenant_id,
            conversation_id=message.conversation_id,
            data=message.model_dump(mode="json", exclude={"recipient"}),  # the API's fields
        )

    @classmethod
    def of_conversation(cls, type: InboxEventType, conversation: Conversation) -> InboxEvent:
        if conversation.tenant_id is None or conversation.id is None:
            raise ValueError("a stored conversation is needed")
        return cls(
            type=type,
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.id,
            data=conversation.model_dump(mode="json"),
        )


class InboxEvents(Protocol):
    """Publishes inbox events to every API replica."""

    async def publish(self, event: InboxEvent) -> str | None:
        """Append the event to its tenant's log; its cursor, or None when it could not be
        written (logged; never raises)."""
        ...


class InboxEventLog(Protocol):
    """The events a tenant's log still keeps (for reconnecting sockets to replay)."""

    async def forget_conversations(self, tenant_id: str, conversation_ids: list[str]) -> int:
        """Remove every event of these conversations from the tenant's log (an erasure);
        how many went. `ServiceUnavailable("cache")` when the log cannot be reached."""
        ...


@dataclass(frozen=True)
class CursoredEvent:
    """An event as read back from its tenant's log: `cursor` is its position there (what a
    reconnecting socket resumes after)."""

    cursor: str
    event: InboxEvent


class CursorExpired(ParleyError):
    """The events after this cursor are no longer all kept (older than the retention, or
    the log was lost): the client re-reads over HTTP, then follows live."""

    code = "cursor_expired"
    title = "Cursor expired"


class InvalidCursor(InvalidInput):
    """Not a cursor this feed gave."""

    code = "invalid_cursor"
    title = "Invalid cursor"


def cursor_key(cursor: str) -> tuple[int, int]:
    """A cursor (`"<ms>-<seq>"`) as a comparable pair (later events compare greater);
    `InvalidCursor` when it is not one."""
    ms, dash, seq = cursor.partition("-")
    if not dash or not ms.isdigit() or not seq.isdigit() or len(cursor) > 41:
        raise InvalidCursor("This is not a cursor of this feed.")
    return int(ms), int(seq)


Deliver = Callable[[CursoredEvent], None]


class InboxFeed(Protocol):
    """Reads tenants' inbox events for this process's sockets: live (one reader per
    process, whatever the number of sockets) and replayed after a cursor."""

    async def listen(self, tenant_id: str, deliver: Deliver) -> Callable[[], None]:
        """From now on call `deliver` with every event of the tenant, in log order, on the
        event loop (it must not block: queue and return). Returns the release function.
        Raises `ServiceUnavailable` when the log cannot be reached."""
        ...

    async def replay(self, tenant_id: str, after: str, *, limit: int) -> list[CursoredEvent]:
        """The tenant's events after `after`, oldest first, at most `limit`. Raises
        `InvalidCursor`, `CursorExpired` (not all kept), `ServiceUnavailable`."""
        ...
