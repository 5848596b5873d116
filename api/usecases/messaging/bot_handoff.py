"""Who handles a conversation: the AI assistant (`handled_by: "bot"`) or humans.

- `HandOverToHumans`: `POST /conversations/{id}/handoff {reason?}` (`inbox:write`), and
  the assistant's own decision (no principal; with a summary for the agent). The
  conversation becomes `human` and `open`; the summary, when there is one, is a private
  note (sender `bot`); then the inbox's auto-assignment rule picks an agent. A
  conversation humans handle already is answered as it is (idempotent); a resolved one
  is 409 `conversation_resolved`. Audited `conversation.handed_off` with the reason.
- `HandBackToBot`: `POST /conversations/{id}/bot` (`inbox:write`): back to the assistant,
  `pending` and unassigned; 409 `no_assistant` when no enabled assistant answers on its
  channel, 409 `conversation_resolved` for a resolved one. Audited
  `conversation.handed_to_bot`.

Both are one conditional update (of two racing handovers, one wins), pushed to agents as
`conversation.updated`.
"""

from __future__ import annotations

import logging

from api.domain.clock import Clock
from api.domain.identity.auth import Principal
from api.domain.messaging.bots import ChannelBots, NoAssistant
from api.domain.messaging.conversations import (
    Conversation,
    ConversationRepository,
    ConversationStatus,
    HandledBy,
)
from api.domain.messaging.errors import ConversationResolved
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
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.add_private_note import MAX_NOTE_LENGTH, NOTE_TYPE
from api.usecases.messaging.auto_assign import AutoAssignConversation
from api.usecases.messaging.inbox_actions import InboxChangeLog, changed_or_current
from api.usecases.messaging.inbox_reads import existing_conversation

log = logging.getLogger(__name__)
RESOLVED = "The conversation is resolved; reopen it first."


class HandOverToHumans:
    def __init__(
        self,
        conversations: ConversationRepository,
        messages: MessageRepository,
        auto_assign: AutoAssignConversation,
        changes: InboxChangeLog,
        events: InboxEvents,
        clock: Clock,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._auto_assign = auto_assign
        self._changes = changes
        self._events = events
        self._clock = clock

    async def execute(
        self,
        principal: Principal | None,
        conversation_id: str,
        *,
        reason: str | None = None,
        summary: str | None = None,
    ) -> Conversation:
        """The conversation as humans have it now (current tenant); `principal` None is
        the assistant itself."""
        if principal is not None:
            require_permission(principal, Permission.INBOX_WRITE)
        before = await existing_conversation(self._conversations, conversation_id)
        if before.status is ConversationStatus.RESOLVED:
            raise ConversationResolved(RESOLVED)
        changed = await self._conversations.hand_over(conversation_id, HandledBy.HUMAN)
        if changed is None:  # humans have it already (or it was resolved meanwhile)
            return await changed_or_current(self._conversations, conversation_id, None)
        if summary:
            await self._note(changed, summary)
        after = await self._changes.changed(
            "conversation.handed_off", before, changed, actor=principal,
            extra={"reason": reason} if reason else None,
        )  # fmt: skip
        try:
            return await self._auto_assign.execute(after) or after
        except Exception:  # best effort: it stays unassigned, open for any agent
            log.exception("auto-assignment of conversation %s failed", conversation_id)
            return after

    async def _note(self, conversation: Conversation, summary: str) -> None:
        assert conversation.id is not None  # noqa: S101 - stored
        note, _ = await self._messages.add_once(
            Message(
                conversation_id=conversation.id, channel_id=conversation.channel_id,
                contact_id=conversation.contact.id, direction=Direction.OUTBOUND,
                type=NOTE_TYPE, text=summary.strip()[:MAX_NOTE_LENGTH], private=True,
                sender=MessageSender(type=SenderType.BOT), status=MessageStatus.RECEIVED,
                created_at=self._clock.now(),
            )
        )  # fmt: skip
        await self._events.publish(InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, note))


class HandBackToBot:
    def __init__(
        self, conversations: ConversationRepository, bots: ChannelBots, changes: InboxChangeLog
    ) -> None:
        self._conversations = conversations
        self._bots = bots
        self._changes = changes

    async def execute(self, principal: Principal, conversation_id: str) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        before = await existing_conversation(self._conversations, conversation_id)
        if before.status is ConversationStatus.RESOLVED:
            raise ConversationResolved(RESOLVED)
        if before.handled_by is HandledBy.BOT:
            return before
        if not await self._bots.answers(before.channel_id):
            raise NoAssistant("No enabled assistant answers on this conversation's channel.")
        after = await changed_or_current(
            self._conversations, conversation_id,
            await self._conversations.hand_over(conversation_id, HandledBy.BOT),
        )  # fmt: skip
        return await self._changes.changed(
            "conversation.handed_to_bot", before, after, actor=principal
        )
