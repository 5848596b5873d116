"""Deleting all of the caller's AI conversations (never anybody else's)."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.removal import AiConversationRemoval
from api.usecases.ai.rules import stop_key
from api.usecases.kernel.authority import audit_extra, require_permission


class ClearAiHistory(AiConversationRemoval):
    """Delete every conversation of the caller (never anybody else's)."""

    async def execute(self, principal: Principal) -> int:
        require_permission(principal, Permission.AI_USE)
        ids = await self._conversations.delete_all(principal.user_id)
        for conversation_id in ids:
            await self._stops.request(stop_key(conversation_id))
        await self._messages.delete_for(ids)
        await self._auditor.record(
            "conversation.cleared", "conversation", None, actor_id=principal.user_id,
            changes=audit_extra(principal, {"conversations": len(ids)}),
        )  # fmt: skip
        return len(ids)
