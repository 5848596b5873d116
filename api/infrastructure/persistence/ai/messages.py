"""AI chat messages, one document each, per tenant and conversation.

Filters put `tenant_id` first (`tenant_first`) so that SecantusDB picks the compound index
below (its planner chooses from a filter's first key).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from beanie import PydanticObjectId, SortDirection
from bson import ObjectId
from pymongo import DESCENDING, IndexModel

from api.domain.ai.entities import AiMessage, AiMessagePage
from api.domain.ai.values import FinishReason, Provider, Speaker, TokenUsage
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.base.together import Step
from api.infrastructure.persistence.base.writes import InsertOp

_MESSAGE_FIELDS = set(AiMessage.model_fields) - {"id", TENANT_FIELD}


class AiMessageDocument(TenantOwnedDocument):
    conversation_id: str
    user_id: str
    role: Speaker
    content: str
    model: str
    provider: Provider
    partial: bool = False
    finish_reason: FinishReason | None = None
    usage: TokenUsage | None = None
    created_at: datetime

    class Settings:
        name = "ai_messages"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("conversation_id", 1), ("_id", DESCENDING)],
                name="tenant_conversation_newest",
            ),
        ]

    def to_entity(self) -> AiMessage:
        return AiMessage(
            id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_MESSAGE_FIELDS)
        )


def _document(message: AiMessage) -> AiMessageDocument:
    document = AiMessageDocument(**message.model_dump(include=_MESSAGE_FIELDS))
    if message.id is not None:
        document.id = PydanticObjectId(message.id)
    return document


class BeanieAiMessageRepository:
    """`AiMessageRepository` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(AiMessageDocument)

    def new_id(self) -> str:
        return str(ObjectId())

    async def add(self, message: AiMessage) -> AiMessage:
        return (await self._scoped.insert(_document(message))).to_entity()

    def add_step(self, message: AiMessage) -> Step:
        """`add` as one step of a set written together (see `together`)."""
        return Step(self._scoped, InsertOp(_document(message)))

    async def latest(self, conversation_id: str, limit: int) -> list[AiMessage]:
        found = await self._scoped.find(
            tenant_first(conversation_id=conversation_id),
            sort=[("_id", SortDirection.DESCENDING)],
            limit=limit,
        )
        return [d.to_entity() for d in reversed(found)]

    async def page(self, conversation_id: str, *, before: str | None, limit: int) -> AiMessagePage:
        filter = tenant_first(conversation_id=conversation_id)
        if before is not None:
            oid = to_object_id(before)
            if oid is None:
                return AiMessagePage(items=[])
            filter["_id"] = {"$lt": oid}
        found = await self._scoped.find(
            filter, sort=[("_id", SortDirection.DESCENDING)], limit=limit + 1
        )
        more = len(found) > limit
        items = [d.to_entity() for d in reversed(found[:limit])]
        return AiMessagePage(items=items, next_cursor=items[0].id if more and items else None)

    async def delete(self, message_id: str) -> None:
        await self._scoped.delete(message_id)

    async def delete_for(self, conversation_ids: list[str]) -> int:
        if not conversation_ids:
            return 0
        return await self._scoped.delete_many(
            tenant_first(conversation_id={"$in": conversation_ids})
        )
