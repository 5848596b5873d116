"""Private notes: what agents write to each other in a conversation, never sent."""

from __future__ import annotations

from api.domain.clock import Clock
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.messaging.inbox_reads import existing_conversation

MAX_NOTE_LENGTH = 4096
NOTE_TYPE = "note"


class AddPrivateNote:
    """Write a private note in a conversation (`inbox:write`), resolved ones included.

    Rules: the note is a message with `private: true`, type `note`, direction `outbound`,
    sender the agent, status `received` (stored by Parley, nothing to deliver; no
    external id, so no provider status ever moves it); it is never sent to any provider
    and changes nothing of the conversation (unread count, activity, window, first
    reply). The body is 1 to 4096 characters once trimmed (422). Agents get
    `message.created`; audited `conversation.note_added` with the message id (not the
    text)."""

    def __init__(
        self,
        conversations: ConversationRepository,
        messages: MessageRepository,
        events: InboxEvents,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._events = events
        self._auditor = auditor
        self._clock = clock

    async def execute(self, principal: Principal, conversation_id: str, body: str) -> Message:
        require_permission(principal, Permission.INBOX_WRITE)
        text = body.strip()
        if not 1 <= len(text) <= MAX_NOTE_LENGTH:
            raise InvalidInput(
                "A note has 1 to 4096 characters.",
                [FieldProblem(("body",), f"1 to {MAX_NOTE_LENGTH} characters")],
            )
        conversation = await existing_conversation(self._conversations, conversation_id)
        now = stored_time(self._clock.now())
        note, _ = await self._messages.add_once(
            Message(
                conversation_id=conversation_id, channel_id=conversation.channel_id,
                contact_id=conversation.contact.id, direction=Direction.OUTBOUND,
                type=NOTE_TYPE, text=text, private=True,
                sender=MessageSender(type=SenderType.AGENT, id=principal.user_id),
                status=MessageStatus.RECEIVED, status_timestamps={"received": now},
                created_at=now,
            )
        )  # fmt: skip
        await self._auditor.record(
            "conversation.note_added", "conversation", conversation_id,
            actor_id=principal.user_id,
            changes=audit_extra(principal, {"message_id": note.id, "length": len(text)}),
        )  # fmt: skip
        await self._events.publish(InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, note))
        return note
