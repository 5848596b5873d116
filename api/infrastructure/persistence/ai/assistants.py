"""AI assistants in MongoDB: tenant-owned; the channels they answer on are indexed so an
inbound message finds its channel's enabled assistant in one indexed read."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pydantic import BaseModel, Field
from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.ai.assistants import Assistant, AssistantPage
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
)

_CHANGEABLE = frozenset(
    {
        "name", "model", "instructions", "channel_ids", "enabled", "languages", "handoff",
        "business_hours", "out_of_hours_message", "max_tokens_per_day", "follow_up",
    }
)  # fmt: skip
_OLDEST_FIRST = [("created_at", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)]


def _stored(value: object) -> object:
    """A value as the document keeps it: value objects as plain JSON-like dicts (business
    hours hold dates, which BSON has no type for)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


class AssistantDocument(TenantOwnedDocument):
    name: str
    model: str
    instructions: str = ""
    channel_ids: list[str] = Field(default_factory=list)
    enabled: bool = True
    languages: str | list[str] = "auto"
    handoff: dict[str, Any] = Field(default_factory=dict)
    business_hours: dict[str, Any] | None = None
    out_of_hours_message: str | None = None
    max_tokens_per_day: int | None = None
    follow_up: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "assistants"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("created_at", 1)], name="assistant_order"),
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_ids", 1), ("enabled", 1)], name="assistant_channel"
            ),
        ]

    @classmethod
    def of(cls, assistant: Assistant) -> AssistantDocument:
        fields = assistant.model_dump(exclude={"id", "tenant_id"})
        for key in ("handoff", "business_hours", "follow_up"):
            fields[key] = _stored(getattr(assistant, key))
        return cls(**fields)

    def to_entity(self) -> Assistant:
        return Assistant.model_validate(
            {**self.model_dump(exclude={"id", "revision_id"}), "id": str(self.id)}
        )


class BeanieAssistantRepository:
    """`AssistantRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(AssistantDocument)

    async def add(self, assistant: Assistant) -> Assistant:
        return (await self._scoped.insert(AssistantDocument.of(assistant))).to_entity()

    async def get(self, assistant_id: str) -> Assistant | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(assistant_id)
        return document.to_entity() if document else None

    async def update(self, assistant_id: str, changes: dict[str, object]) -> Assistant | None:
        self._scoped.scope()
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"assistants cannot change {sorted(unknown)}")
        prepared = {key: _stored(value) for key, value in changes.items()}
        document = await self._scoped.update(assistant_id, {**prepared, "updated_at": utcnow()})
        return document.to_entity() if document else None

    async def delete(self, assistant_id: str) -> bool:
        self._scoped.scope()
        return await self._scoped.delete(assistant_id)

    async def search(self, *, skip: int, limit: int) -> AssistantPage:
        found = await self._scoped.find(sort=_OLDEST_FIRST, skip=skip, limit=limit)
        return AssistantPage(items=[d.to_entity() for d in found], total=await self._scoped.count())

    async def for_channel(self, channel_id: str) -> Assistant | None:
        found = await self._scoped.find(
            tenant_first(channel_ids=channel_id, enabled=True), sort=_OLDEST_FIRST, limit=1
        )
        return found[0].to_entity() if found else None

    async def claiming(self, channel_ids: list[str]) -> list[Assistant]:
        if not channel_ids:
            self._scoped.scope()
            return []
        found = await self._scoped.find(
            tenant_first(channel_ids={"$in": list(channel_ids)}, enabled=True),
            sort=_OLDEST_FIRST,
        )
        return [d.to_entity() for d in found]
