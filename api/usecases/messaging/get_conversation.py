"""Reading one conversation of the shared inbox."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import Conversation, ConversationRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_reads import existing_conversation


class GetConversation:
    """One conversation (`inbox:read`); another tenant's is 404."""

    def __init__(self, conversations: ConversationRepository) -> None:
        self._conversations = conversations

    async def execute(self, principal: Principal, conversation_id: str) -> Conversation:
        require_permission(principal, Permission.INBOX_READ)
        return await existing_conversation(self._conversations, conversation_id)
