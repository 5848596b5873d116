"""Reading one message of the shared inbox."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.messages import Message, MessageRepository
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_reads import MESSAGE_NOT_FOUND


class GetMessage:
    """One message (`inbox:read`); another tenant's is 404, and so is, for a
    department-limited user, one of a conversation outside their departments."""

    def __init__(self, messages: MessageRepository, conversations: ConversationRepository) -> None:
        self._messages = messages
        self._conversations = conversations

    async def execute(self, principal: Principal, message_id: str) -> Message:
        require_permission(principal, Permission.INBOX_READ)
        found = await self._messages.get(message_id)
        if found is None or (
            principal.departments is not None
            and await self._conversations.get(found.conversation_id) is None  # out of scope
        ):
            raise NotFound(MESSAGE_NOT_FOUND)
        return found
