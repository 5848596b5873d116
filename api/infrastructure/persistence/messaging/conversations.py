"""Conversations in MongoDB, within the current tenant.

`active_key` (the contact id) is set while a conversation is unresolved and removed when
it is resolved; a unique partial index over `(tenant, channel, active_key)` lets only one
unresolved conversation exist per contact and channel, so an inbound message's upsert
joins it or opens it, atomically, however many messages race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import DESCENDING, IndexModel

from api.common.clock import utcnow
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import (
    SERVICE_WINDOW,
    ContactSummary,
    Conversation,
    ConversationPage,
    ConversationStatus,
    HandledBy,
    Priority,
)
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

ACTIVE_KEY = "active_key"
_ACTIVITY = "last_message_at"


class ConversationDocument(TenantOwnedDocument):
    channel_id: str
    channel_type: ChannelType
    contact: ContactSummary
    active_key: str | None = None
    status: ConversationStatus = ConversationStatus.OPEN
    priority: Priority = Priority.NORMAL
    assignee_id: str | None = None
    team_id: str | None = None
    handled_by: HandledBy = HandledBy.HUMAN
    tags: list[str] = []
    unread_count: int = 0
    last_message_at: datetime | None = None
    last_inbound_at: datetime | None = None
    window_expires_at: datetime | None = None
    snoozed_until: datetime | None = None
    first_reply_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "conversations"
        keep_nulls = False
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), (ACTIVE_KEY, 1)],
                unique=True,
                partialFilterExpression={ACTIVE_KEY: {"$type": "string"}},
                name="unresolved_per_contact_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), (_ACTIVITY, DESCENDING), ("_id", DESCENDING)],
                name="tenant_activity",
            ),
        ]

    def to_entity(self) -> Conversation:
        return Conversation(
            id=str(self.id), **self.model_dump(exclude={"id", "revision_id", ACTIVE_KEY})
        )


class BeanieConversationRepository:
    """`ConversationRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ConversationDocument)

    async def join_inbound(
        self, channel_id: str, channel_type: ChannelType, contact: ContactSummary, at: datetime
    ) -> tuple[Conversation, bool]:
        now = utcnow()
        key = {"channel_id": channel_id, ACTIVE_KEY: contact.id}
        update: dict[str, Any] = {
            "$set": {"contact": contact.model_dump(), "updated_at": now},
            "$max": {
                _ACTIVITY: at, "last_inbound_at": at, "window_expires_at": at + SERVICE_WINDOW,
            },
            "$setOnInsert": {
                "channel_type": channel_type.value, "status": ConversationStatus.OPEN.value,
                "priority": Priority.NORMAL.value, "handled_by": HandledBy.HUMAN.value,
                "tags": [], "unread_count": 0, "created_at": now,
            },
        }  # fmt: skip
        opened = await self._scoped.upsert(key, update)
        found = await self._scoped.find(key, limit=1)
        return found[0].to_entity(), opened

    async def count_unread(self, conversation_id: str) -> Conversation | None:
        if not await self._scoped.apply(conversation_id, {"$inc": {"unread_count": 1}}):
            return None
        return await self.get(conversation_id)

    async def get(self, conversation_id: str) -> Conversation | None:
        document = await self._scoped.get(conversation_id)
        return document.to_entity() if document else None

    async def unresolved(self, channel_id: str, contact_id: str) -> Conversation | None:
        found = await self._scoped.find({"channel_id": channel_id, ACTIVE_KEY: contact_id}, limit=1)
        return found[0].to_entity() if found else None

    async def open_outbound(
        self, channel_id: str, channel_type: ChannelType, contact: ContactSummary
    ) -> Conversation:
        now = utcnow()
        key = {"channel_id": channel_id, ACTIVE_KEY: contact.id}
        await self._scoped.upsert(
            key,
            {"$setOnInsert": {
                "contact": contact.model_dump(), "channel_type": channel_type.value,
                "status": ConversationStatus.OPEN.value, "priority": Priority.NORMAL.value,
                "handled_by": HandledBy.HUMAN.value, "tags": [], "unread_count": 0,
                "created_at": now, "updated_at": now,
            }},
        )  # fmt: skip
        found = await self._scoped.find(key, limit=1)
        return found[0].to_entity()

    async def record_outbound(self, conversation_id: str, at: datetime, *, reply: bool) -> None:
        await self._scoped.apply(
            conversation_id, {"$max": {_ACTIVITY: at}, "$set": {"updated_at": utcnow()}}
        )
        if reply:
            await self._scoped.apply_where(
                {"_id": to_object_id(conversation_id), "first_reply_at": None},
                {"$set": {"first_reply_at": at}},
            )

    async def mark_read(self, conversation_id: str) -> bool:
        return await self._scoped.apply(
            conversation_id, {"$set": {"unread_count": 0, "updated_at": utcnow()}}
        )

    async def search(
        self,
        *,
        status: ConversationStatus | None,
        channel_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> ConversationPage:
        filter: dict[str, Any] = after_cursor(_ACTIVITY, cursor)
        if status is not None:
            filter["status"] = status.value
        if channel_id is not None:
            filter["channel_id"] = channel_id
        found = await self._scoped.find(
            filter,
            sort=[(_ACTIVITY, SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            limit=limit + 1,
        )
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = (
            encode_cursor(last.last_message_at, str(last.id))
            if last is not None and last.last_message_at is not None
            else None
        )
        return ConversationPage(items=items, next_cursor=next_cursor)
