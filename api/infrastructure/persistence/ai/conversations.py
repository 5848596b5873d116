"""AI conversations per tenant and user (their messages live in `messages`).

Filters put `tenant_id` first (`tenant_first`) so that SecantusDB picks the compound index
below (its planner chooses from a filter's first key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import PydanticObjectId, SortDirection
from pydantic import Field
from pymongo import DESCENDING, IndexModel

from api.domain.ai.entities import AiConversation
from api.domain.ai.values import ModelInfo, Provider
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.base.together import Step
from api.infrastructure.persistence.base.writes import InsertOp, UpdateOp

_CONVERSATION_FIELDS = set(AiConversation.model_fields) - {"id", TENANT_FIELD}


class AiConversationDocument(TenantOwnedDocument):
    user_id: str
    title: str = Field(max_length=200)
    model: str
    provider: Provider
    message_count: int = 0
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "ai_conversations"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("user_id", 1), ("updated_at", DESCENDING)],
                name="tenant_user_recent",
            ),
        ]

    def to_entity(self) -> AiConversation:
        return AiConversation(
            id=str(self.id),
            tenant_id=self.tenant_id,
            **self.model_dump(include=_CONVERSATION_FIELDS),
        )


def _document(conversation: AiConversation) -> AiConversationDocument:
    document = AiConversationDocument(**conversation.model_dump(include=_CONVERSATION_FIELDS))
    if conversation.id is not None:
        document.id = PydanticObjectId(conversation.id)
    return document


def _touched(messages: int, at: datetime, model: ModelInfo | None) -> dict[str, Any]:
    """The update of a conversation that counts `messages` more at `at` (with `model`)."""
    changes: dict[str, Any] = {"updated_at": at}
    if model is not None:
        changes |= {"model": model.id, "provider": model.provider.value}
    return {"$inc": {"message_count": messages}, "$set": changes}


class BeanieAiConversationRepository:
    """`AiConversationRepository` adapter, within the current tenant (fail closed)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(AiConversationDocument)

    async def create(self, conversation: AiConversation) -> AiConversation:
        return (await self._scoped.insert(_document(conversation))).to_entity()

    def create_step(self, conversation: AiConversation) -> Step:
        """`create` as one step of a set written together (see `together`)."""
        return Step(self._scoped, InsertOp(_document(conversation)))

    async def get(self, user_id: str, conversation_id: str) -> AiConversation | None:
        oid = to_object_id(conversation_id)
        if oid is None:
            return None
        found = await self._scoped.find({"_id": oid, "user_id": user_id}, limit=1)
        return found[0].to_entity() if found else None

    async def page(
        self, user_id: str, *, skip: int, limit: int
    ) -> tuple[list[AiConversation], int]:
        mine = tenant_first(user_id=user_id)
        found = await self._scoped.find(
            mine,
            sort=[("updated_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            skip=skip,
            limit=limit,
        )
        return [d.to_entity() for d in found], await self._scoped.count(mine)

    async def touch(
        self, conversation_id: str, *, messages: int, at: datetime, model: ModelInfo | None = None
    ) -> bool:
        return await self._scoped.apply(conversation_id, _touched(messages, at, model))

    def touch_step(
        self, conversation_id: str, *, messages: int, at: datetime, model: ModelInfo | None = None
    ) -> Step | None:
        """`touch` as one step of a set written together (None: not an id, no such
        conversation)."""
        oid = to_object_id(conversation_id)
        if oid is None:
            return None
        return Step(self._scoped, UpdateOp({"_id": oid}, _touched(messages, at, model)))

    async def delete(self, user_id: str, conversation_id: str) -> bool:
        oid = to_object_id(conversation_id)
        if oid is None:
            return False
        return await self._scoped.delete_many({"_id": oid, "user_id": user_id}) == 1

    async def delete_all(self, user_id: str) -> list[str]:
        mine = tenant_first(user_id=user_id)
        ids = [str(d.id) async for batch in self._scoped.batches(mine) for d in batch]
        await self._scoped.delete_many(mine)
        return ids
