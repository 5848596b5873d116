"""AI conversations, messages (one document each), usage and settings, per tenant.

Filters put `tenant_id` first so that SecantusDB picks the compound indexes below (its
planner chooses from a filter's first key).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from beanie import PydanticObjectId, SortDirection
from bson import ObjectId
from pydantic import Field
from pymongo import DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from api.domain.ai.chat import (
    AiTenantSettings,
    ChatMessage,
    Conversation,
    FinishReason,
    MessagePage,
    ModelInfo,
    Provider,
    Role,
    TokenUsage,
    UsageRow,
)
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)

_CONVERSATION_FIELDS = set(Conversation.model_fields) - {"id", TENANT_FIELD}
_MESSAGE_FIELDS = set(ChatMessage.model_fields) - {"id", TENANT_FIELD}


def _tenant_first(**fields: Any) -> dict[str, Any]:
    return {TENANT_FIELD: current_tenant(), **fields}


class ConversationDocument(TenantOwnedDocument):
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

    def to_entity(self) -> Conversation:
        return Conversation(
            id=str(self.id),
            tenant_id=self.tenant_id,
            **self.model_dump(include=_CONVERSATION_FIELDS),
        )


class MessageDocument(TenantOwnedDocument):
    conversation_id: str
    user_id: str
    role: Role
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

    def to_entity(self) -> ChatMessage:
        return ChatMessage(
            id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_MESSAGE_FIELDS)
        )


class UsageDocument(TenantOwnedDocument):
    """Tokens of one UTC day, user and model (incremented in place)."""

    day: str
    user_id: str
    model: str
    provider: Provider
    input_tokens: int = 0
    output_tokens: int = 0
    messages: int = 0

    class Settings:
        name = "ai_usage"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("day", 1), ("user_id", 1), ("model", 1), ("provider", 1)],
                name="tenant_day_user_model",
                unique=True,
            ),
        ]


class AiSettingsDocument(TenantOwnedDocument):
    allowed_models: list[str] | None = None
    default_model: str | None = None
    daily_token_quota: int | None = None
    updated_at: datetime | None = None

    class Settings:
        name = "ai_settings"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1)], name="tenant", unique=True)
        ]


class BeanieConversationRepository:
    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ConversationDocument)

    async def create(self, conversation: Conversation) -> Conversation:
        document = ConversationDocument(**conversation.model_dump(include=_CONVERSATION_FIELDS))
        if conversation.id is not None:
            document.id = PydanticObjectId(conversation.id)
        return (await self._scoped.insert(document)).to_entity()

    async def get(self, user_id: str, conversation_id: str) -> Conversation | None:
        oid = to_object_id(conversation_id)
        if oid is None:
            return None
        found = await self._scoped.find({"_id": oid, "user_id": user_id}, limit=1)
        return found[0].to_entity() if found else None

    async def page(self, user_id: str, *, skip: int, limit: int) -> tuple[list[Conversation], int]:
        mine = _tenant_first(user_id=user_id)
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
        changes: dict[str, Any] = {"updated_at": at}
        if model is not None:
            changes |= {"model": model.id, "provider": model.provider.value}
        return await self._scoped.apply(
            conversation_id, {"$inc": {"message_count": messages}, "$set": changes}
        )

    async def delete(self, user_id: str, conversation_id: str) -> bool:
        oid = to_object_id(conversation_id)
        if oid is None:
            return False
        return await self._scoped.delete_many({"_id": oid, "user_id": user_id}) == 1

    async def delete_all(self, user_id: str) -> list[str]:
        mine = _tenant_first(user_id=user_id)
        collection = ConversationDocument.get_pymongo_collection()
        with database_errors():
            ids = [str(d["_id"]) async for d in collection.find(mine, {"_id": 1})]
        await self._scoped.delete_many(mine)
        return ids


class BeanieMessageRepository:
    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(MessageDocument)

    def new_id(self) -> str:
        return str(ObjectId())

    async def add(self, message: ChatMessage) -> ChatMessage:
        document = MessageDocument(**message.model_dump(include=_MESSAGE_FIELDS))
        if message.id is not None:
            document.id = PydanticObjectId(message.id)
        return (await self._scoped.insert(document)).to_entity()

    async def latest(self, conversation_id: str, limit: int) -> list[ChatMessage]:
        found = await self._scoped.find(
            _tenant_first(conversation_id=conversation_id),
            sort=[("_id", SortDirection.DESCENDING)],
            limit=limit,
        )
        return [d.to_entity() for d in reversed(found)]

    async def page(self, conversation_id: str, *, before: str | None, limit: int) -> MessagePage:
        filter = _tenant_first(conversation_id=conversation_id)
        if before is not None:
            oid = to_object_id(before)
            if oid is None:
                return MessagePage(items=[])
            filter["_id"] = {"$lt": oid}
        found = await self._scoped.find(
            filter, sort=[("_id", SortDirection.DESCENDING)], limit=limit + 1
        )
        more = len(found) > limit
        items = [d.to_entity() for d in reversed(found[:limit])]
        return MessagePage(items=items, next_cursor=items[0].id if more and items else None)

    async def delete(self, message_id: str) -> None:
        await self._scoped.delete(message_id)

    async def delete_for(self, conversation_ids: list[str]) -> int:
        if not conversation_ids:
            return 0
        return await self._scoped.delete_many(
            _tenant_first(conversation_id={"$in": conversation_ids})
        )


class MongoUsageLedger:
    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(UsageDocument)

    async def add(self, *, day: str, user_id: str, model: ModelInfo, usage: TokenUsage) -> None:
        key = self._scoped.scope(
            _tenant_first(day=day, user_id=user_id, model=model.id, provider=model.provider.value)
        )
        increments = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "messages": 1,
        }
        collection = UsageDocument.get_pymongo_collection()
        for attempt in (1, 2):
            try:
                with database_errors():
                    await collection.update_one(key, {"$inc": increments}, upsert=True)
                return
            except DuplicateKeyError:  # two first uses of the day raced: the row exists now
                if attempt == 2:
                    raise

    async def tenant_total(self, day: str) -> int:
        rows = await self._scoped.aggregate(
            [
                {"$match": {"day": day}},
                {
                    "$group": {
                        "_id": None,
                        "total": {"$sum": {"$add": ["$input_tokens", "$output_tokens"]}},
                    }
                },
            ]
        )
        return int(rows[0]["total"]) if rows else 0

    async def rows(self, *, since: str, until: str, user_id: str | None) -> list[UsageRow]:
        # Days by name: SecantusDB answers a range on the second key of the compound index
        # with nothing (real MongoDB is fine either way); a year is at most 366 names.
        first, last = date.fromisoformat(since), date.fromisoformat(until)
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        filter: dict[str, Any] = _tenant_first(day={"$in": days})
        if user_id is not None:
            filter["user_id"] = user_id
        found = await self._scoped.find(
            filter,
            sort=[
                ("day", SortDirection.ASCENDING),
                ("user_id", SortDirection.ASCENDING),
                ("model", SortDirection.ASCENDING),
            ],
        )
        return [
            UsageRow(
                day=d.day, user_id=d.user_id, model=d.model, provider=d.provider,
                input_tokens=d.input_tokens, output_tokens=d.output_tokens, messages=d.messages,
            )
            for d in found
        ]  # fmt: skip


class MongoAiSettingsRepository:
    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(AiSettingsDocument)

    async def get(self) -> AiTenantSettings:
        found = await self._scoped.find(limit=1)
        if not found:
            return AiTenantSettings()
        document = found[0]
        return AiTenantSettings(
            allowed_models=(
                tuple(document.allowed_models) if document.allowed_models is not None else None
            ),
            default_model=document.default_model,
            daily_token_quota=document.daily_token_quota,
            updated_at=document.updated_at,
        )

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings:
        fields = {
            "allowed_models": list(settings.allowed_models)
            if settings.allowed_models is not None
            else None,
            "default_model": settings.default_model,
            "daily_token_quota": settings.daily_token_quota,
            "updated_at": settings.updated_at,
        }
        with database_errors():
            await AiSettingsDocument.get_pymongo_collection().update_one(
                self._scoped.scope(), {"$set": fields}, upsert=True
            )
        return settings
