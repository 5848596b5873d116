"""Deleting the caller's AI conversations, one or all: one flow, two use cases.

Every query names the caller as owner: another user's conversation, in this tenant or
another, is answered exactly like one that does not exist (404), and clearing never
touches anybody else's.
"""

from __future__ import annotations

from api.domain.ai.ports import AiConversationRepository, AiMessageRepository, StopSignals
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.ai.rules import CONVERSATION_NOT_FOUND, stop_key
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission


class _Removal:
    """What deleting conversations takes: stop their answers, delete, audit."""

    def __init__(
        self,
        conversations: AiConversationRepository,
        messages: AiMessageRepository,
        stops: StopSignals,
        auditor: Auditor,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._stops = stops
        self._auditor = auditor


class DeleteAiConversation(_Removal):
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


class ClearAiHistory(_Removal):
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
