"""Listing the caller's own AI conversations."""

from __future__ import annotations

from dataclasses import dataclass

from api.domain.ai.entities import AiConversation
from api.domain.ai.ports import AiConversationRepository
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission


@dataclass(frozen=True)
class AiConversationList:
    items: list[AiConversation]
    total: int


class ListAiConversations:
    """The caller's conversations, most recently active first."""

    def __init__(self, conversations: AiConversationRepository) -> None:
        self._conversations = conversations

    async def execute(
        self, principal: Principal, *, page: int, page_size: int
    ) -> AiConversationList:
        require_permission(principal, Permission.AI_USE)
        items, total = await self._conversations.page(
            principal.user_id, skip=(page - 1) * page_size, limit=page_size
        )
        return AiConversationList(items, total)
