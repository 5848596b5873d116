"""Listing the shared inbox's conversations, newest activity first, by cursor."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import (
    ConversationPage,
    ConversationRepository,
    ConversationStatus,
)
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_reads import bounded


class ListConversations:
    """The tenant's conversations (`inbox:read`), narrowed by status and channel."""

    def __init__(self, conversations: ConversationRepository) -> None:
        self._conversations = conversations

    async def execute(
        self,
        principal: Principal,
        *,
        status: ConversationStatus | None,
        channel_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> ConversationPage:
        require_permission(principal, Permission.INBOX_READ)
        return await self._conversations.search(
            status=status, channel_id=channel_id, cursor=cursor, limit=bounded(limit)
        )
