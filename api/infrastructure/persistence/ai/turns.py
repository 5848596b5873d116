"""The writes of one turn of an AI conversation, each set in one round trip.

An ask wrote its new conversation and question as two commands, and its end four: the
reply, the conversation's count, the usage ledger and the quota hold's settlement. They
are independent of one another, so each set now goes as one `bulkWrite` (see
`together`): per ask, 2 commands instead of 6 (bench/README.md, "AI streaming, fourth
pass"). Every step is scoped to the current tenant by its own repository.
"""

from __future__ import annotations

import logging

from api.domain.ai.entities import AiConversation, AiMessage
from api.domain.ai.values import ModelInfo, QuotaSettlement
from api.domain.errors import Conflict
from api.infrastructure.persistence.ai.conversations import BeanieAiConversationRepository
from api.infrastructure.persistence.ai.messages import BeanieAiMessageRepository
from api.infrastructure.persistence.ai.quota import MongoQuotaHolds
from api.infrastructure.persistence.ai.usage import MongoUsageLedger
from api.infrastructure.persistence.base.together import Done, write_together

log = logging.getLogger(__name__)


def _raise_refused(done: list[Done]) -> None:
    for outcome in done:
        if outcome.error is not None:
            raise outcome.error


class MongoAiTurns:
    """`AiTurns` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._conversations = BeanieAiConversationRepository()
        self._messages = BeanieAiMessageRepository()
        self._ledger = MongoUsageLedger()
        self._holds = MongoQuotaHolds()

    async def begin(self, question: AiMessage, *, new: AiConversation | None) -> bool:
        steps = [self._messages.add_step(question)]
        if new is not None:
            steps.append(self._conversations.create_step(new))
        else:
            touch = self._conversations.touch_step(
                question.conversation_id, messages=1, at=question.created_at
            )
            if touch is None:
                return False
            steps.append(touch)
        done = await write_together(steps)
        _raise_refused(done)
        return done[1].matched

    async def end(self, reply: AiMessage, *, day: str, settle: QuotaSettlement | None) -> bool:
        if reply.usage is None:
            raise ValueError("a reply is saved with its usage")
        model = ModelInfo(id=reply.model, provider=reply.provider)
        steps = {
            "reply": self._messages.add_step(reply),
            "usage": self._ledger.add_step(
                day=day, user_id=reply.user_id, model=model, usage=reply.usage
            ),
            "touch": self._conversations.touch_step(
                reply.conversation_id, messages=1, at=reply.created_at, model=model
            ),
            "quota": self._holds.settle_step(settle) if settle is not None else None,
        }
        written = {name: step for name, step in steps.items() if step is not None}
        done = dict(zip(written, await write_together(list(written.values())), strict=True))
        if settle is not None and "quota" in done:
            await self._settled(settle, done["quota"])
        if isinstance(done["usage"].error, Conflict):
            # Two first uses of the day raced, the other created the row: it matches now.
            await self._ledger.add(day=day, user_id=reply.user_id, model=model, usage=reply.usage)
            done["usage"] = Done(matched=True)
        _raise_refused([outcome for name, outcome in done.items() if name != "quota"])
        return "touch" in done and done["touch"].matched

    async def _settled(self, settlement: QuotaSettlement, done: Done) -> None:
        """The quota's part of the end; a failure is logged (the hold lapses by itself)."""
        try:
            if done.error is not None:
                raise done.error
            await self._holds.settled(settlement, matched=done.matched)
        except Exception:
            log.exception("could not settle an AI quota hold")
