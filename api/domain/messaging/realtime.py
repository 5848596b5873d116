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

from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

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
            data=message.model_dump(mode="json"),
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
