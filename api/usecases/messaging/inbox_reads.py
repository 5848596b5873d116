"""The inbox's shared reading rules: page sizes, and 404 for what is not the tenant's."""

from __future__ import annotations

from api.domain.errors import InvalidInput, NotFound
from api.domain.messaging.conversations import Conversation, ConversationRepository

MAX_PAGE = 100
CONVERSATION_NOT_FOUND = "Conversation not found."
MESSAGE_NOT_FOUND = "Message not found."


async def existing_conversation(
    conversations: ConversationRepository, conversation_id: str
) -> Conversation:
    """The tenant's conversation; `NotFound` when absent or another tenant's."""
    found = await conversations.get(conversation_id)
    if found is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    return found


def bounded(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be within 1..{MAX_PAGE}")
    return limit
