"""Reading one of the caller's AI conversations with a page of its messages.

Every query names the caller as owner: another user's conversation, in this tenant or
another, is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

from api.domain.ai.entities import AiConversation, AiMessagePage
from api.domain.ai.ports import AiConversationRepository, AiMessageRepository
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.rules import CONVERSATION_NOT_FOUND
from api.usecases.kernel.authority import require_permission


class ReadAiConversation:
    """One of the caller's conversations and a page of its messages (newest page first;
    messages oldest first within it; `cursor` reads older ones)."""

    def __init__(
        self, conversations: AiConversationRepository, messages: AiMessageRepository
    ) -> None:
        self._conversations = conversations
        self._messages = messages

    async def execute(
        self, principal: Principal, conversation_id: str, *, cursor: str | None, limit: int
    ) -> tuple[AiConversation, AiMessagePage]:
        require_permission(principal, Permission.AI_USE)
        conversation = await self._conversations.get(principal.user_id, conversation_id)
        if conversation is None or conversation.id is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        page = await self._messages.page(conversation.id, before=cursor, limit=limit)
        return conversation, page
