"""Saving an assistant's reply: the one write a generation makes when its stream ends."""

from __future__ import annotations

import asyncio

from api.common.clock import utcnow
from api.domain.ai.entities import AiConversation, AiMessage
from api.domain.ai.ports import AiConversationRepository, AiMessageRepository, UsageLedger
from api.domain.ai.values import FinishReason, ModelInfo, Speaker, TokenUsage
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.usecases.ai.days import utc_day
from api.usecases.ai.rules import CONVERSATION_NOT_FOUND, stored_id


class ReplyWriter:
    """Saves the assistant's reply and counts its usage (also when partial)."""

    def __init__(
        self,
        conversations: AiConversationRepository,
        messages: AiMessageRepository,
        ledger: UsageLedger,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._ledger = ledger

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
    ) -> str:
        """Save the reply as `message_id`, count it in the conversation and its usage in
        the ledger (under `day`, the UTC day its call was asked and held tokens of the
        quota, else today); `NotFound` (and no reply kept) when the conversation was
        deleted."""
        now = utcnow()
        conversation_id = stored_id(conversation.id)
        reply = AiMessage(
            id=message_id, conversation_id=conversation_id, user_id=principal.user_id,
            role=Speaker.ASSISTANT, content=content, model=model.id, provider=model.provider,
            partial=reason.is_partial, finish_reason=reason, usage=usage, created_at=now,
        )  # fmt: skip
        _, _, exists = await asyncio.gather(
            self._ledger.add(
                day=day or utc_day(now), user_id=principal.user_id, model=model, usage=usage
            ),
            self._messages.add(reply),
            self._conversations.touch(conversation_id, messages=1, at=now, model=model),
        )
        if not exists:
            # Deleted meanwhile (DELETE or clear-history): the reply must not outlive it.
            await self._messages.delete(message_id)
            raise NotFound(CONVERSATION_NOT_FOUND)
        return message_id
