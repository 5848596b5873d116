"""Deleting one of the caller's AI conversations (another's is 404, like a missing one)."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.removal import AiConversationRemoval
from api.usecases.ai.rules import CONVERSATION_NOT_FOUND, stop_key
from api.usecases.kernel.authority import audit_extra, require_permission


class DeleteAiConversation(AiConversationRemoval):
    """Stop its generation if one runs, then delete its messages and itself."""

    async def execute(self, principal: Principal, conversation_id: str) -> None:
        require_permission(principal, Permission.AI_USE)
        conversation = await self._conversations.get(principal.user_id, conversation_id)
        if conversation is None or conversation.id is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        await self._stops.request(stop_key(conversation.id))
        await self._conversations.delete(principal.user_id, conversation.id)
        await self._messages.delete_for([conversation.id])
        await self._auditor.record(
            "conversation.deleted", "conversation", conversation.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"messages": conversation.message_count}),
        )  # fmt: skip
