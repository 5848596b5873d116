"""Inbox settings of a tenant (assignment, capacity, business hours, auto-reply): one
document each."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pymongo import IndexModel

from api.domain.messaging.inbox_settings import AutoAssign, InboxSettings
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)


class InboxSettingsDocument(TenantOwnedDocument):
    auto_assign: AutoAssign = AutoAssign.OFF
    agent_capacity: int
    business_hours: dict[str, Any] | None = None
    out_of_hours_message: str | None = None
    updated_at: datetime | None = None

    class Settings:
        name = "inbox_settings"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1)], name="tenant", unique=True)
        ]


class MongoInboxSettingsRepository:
    """`InboxSettingsRepository` adapter, within the current tenant (fail closed)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(InboxSettingsDocument)

    async def get(self) -> InboxSettings | None:
        found = await self._scoped.find(limit=1)
        if not found:
            return None
        return InboxSettings.model_validate(
            found[0].model_dump(exclude={"id", "revision_id", TENANT_FIELD})
        )

    async def put(self, settings: InboxSettings) -> InboxSettings:
        fields = settings.model_dump(mode="json", exclude={"updated_at"})
        fields["updated_at"] = settings.updated_at
        await self._scoped.upsert({}, {"$set": fields})  # one document per tenant
        return settings
