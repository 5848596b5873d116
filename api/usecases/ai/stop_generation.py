"""Stopping a running answer, whichever API replica runs it."""

from __future__ import annotations

from api.domain.ai.ports import AiConversationRepository, StopSignals
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.rules import CONVERSATION_NOT_FOUND, stop_key
from api.usecases.kernel.authority import require_permission


class StopGeneration:
    """Stop the running generation of one of the caller's conversations, wherever it runs."""

    def __init__(self, conversations: AiConversationRepository, stops: StopSignals) -> None:
        self._conversations = conversations
        self._stops = stops

    async def execute(self, principal: Principal, conversation_id: str) -> None:
        require_permission(principal, Permission.AI_USE)
        if await self._conversations.get(principal.user_id, conversation_id) is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        await self._stops.request(stop_key(conversation_id))
