"""Saving an assistant's reply: the one set of writes a generation makes when its stream
ends (the reply, its conversation's count, its usage and the quota hold, together)."""

from __future__ import annotations

from api.common.clock import utcnow
from api.domain.ai.entities import AiConversation, AiMessage
from api.domain.ai.ports import AiMessageRepository, AiTurns
from api.domain.ai.values import FinishReason, ModelInfo, QuotaSettlement, Speaker, TokenUsage
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.usecases.ai.days import utc_day
from api.usecases.ai.rules import CONVERSATION_NOT_FOUND, stored_id


class ReplyWriter:
    """Saves the assistant's reply and counts its usage (also when partial)."""

    def __init__(self, turns: AiTurns, messages: AiMessageRepository) -> None:
        self._turns = turns
        self._messages = messages

    async def save(
        self,
        principal: Principal,
        conversation: AiConversation,
        model: ModelInfo,
        message_id: str,
        *,
        content: str,
        usage: TokenUsage,
        reason: FinishReason,
        day: str | None = None,
        settle: QuotaSettlement | None = None,
    ) -> str:
        """Save the reply as `message_id`, count it in the conversation and its usage in
        the ledger (under `day`, the UTC day its call was asked and held tokens of the
        quota, else today), settling the call's quota hold (`settle`) with them;
        `NotFound` (and no reply kept) when the conversation was deleted."""
        now = utcnow()
        conversation_id = stored_id(conversation.id)
        reply = AiMessage(
            id=message_id, conversation_id=conversation_id, user_id=principal.user_id,
            role=Speaker.ASSISTANT, content=content, model=model.id, provider=model.provider,
            partial=reason.is_partial, finish_reason=reason, usage=usage, created_at=now,
        )  # fmt: skip
        exists = await self._turns.end(reply, day=day or utc_day(now), settle=settle)
        if not exists:
            # Deleted meanwhile (DELETE or clear-history): the reply must not outlive it.
            await self._messages.delete(message_id)
            raise NotFound(CONVERSATION_NOT_FOUND)
        return message_id
