"""A conversation's history, newest first, by cursor."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.messages import MessagePage, MessageRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_reads import bounded, existing_conversation


class ListConversationMessages:
    """The messages of one conversation (`inbox:read`); another tenant's is 404."""

    def __init__(self, conversations: ConversationRepository, messages: MessageRepository) -> None:
        self._conversations = conversations
        self._messages = messages

    async def execute(
        self, principal: Principal, conversation_id: str, *, cursor: str | None, limit: int
    ) -> MessagePage:
        require_permission(principal, Permission.INBOX_READ)
        conversation = await existing_conversation(self._conversations, conversation_id)
        assert conversation.id is not None  # noqa: S101 - stored
        return await self._messages.page(conversation.id, cursor=cursor, limit=bounded(limit))
