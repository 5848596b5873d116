"""How agents sort conversations: tags and priority."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import Conversation, ConversationRepository, Priority
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_actions import (
    InboxChangeLog,
    changed_or_current,
    normalized_tags,
)
from api.usecases.messaging.inbox_reads import existing_conversation


class TagConversation:
    """Replace a conversation's tags (`inbox:write`): each trimmed, inner spaces collapsed,
    lower case, kept once in the order given; at most 20 of at most 50 characters (422).
    Audited `conversation.tagged`."""

    def __init__(self, conversations: ConversationRepository, log: InboxChangeLog) -> None:
        self._conversations = conversations
        self._log = log

    async def execute(
        self, principal: Principal, conversation_id: str, tags: list[str]
    ) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        wanted = normalized_tags(tags)
        before = await existing_conversation(self._conversations, conversation_id)
        if before.tags == wanted:
            return before
        after = await changed_or_current(
            self._conversations,
            conversation_id,
            await self._conversations.set_tags(conversation_id, wanted),
        )
        return await self._log.changed("conversation.tagged", before, after, actor=principal)


class PrioritizeConversation:
    """Set a conversation's priority (`inbox:write`). Audited
    `conversation.priority_changed`."""

    def __init__(self, conversations: ConversationRepository, log: InboxChangeLog) -> None:
        self._conversations = conversations
        self._log = log

    async def execute(
        self, principal: Principal, conversation_id: str, priority: Priority
    ) -> Conversation:
        require_permission(principal, Permission.INBOX_WRITE)
        before = await existing_conversation(self._conversations, conversation_id)
        if before.priority is priority:
            return before
        after = await changed_or_current(
            self._conversations,
            conversation_id,
            await self._conversations.set_priority(conversation_id, priority),
        )
        return await self._log.changed(
            "conversation.priority_changed", before, after, actor=principal
        )
