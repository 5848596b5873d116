"""Data deletion requests in MongoDB, per tenant; found by (channel, confirmation code)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pymongo import IndexModel

from api.domain.messaging.data_deletion import (
    DataDeletionRequest,
    DeletionStatus,
)
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)


class DataDeletionDocument(TenantOwnedDocument):
    channel_id: str
    confirmation_code: str
    user_key: str
    status: DeletionStatus
    contacts_erased: int = 0
    messages_erased: int = 0
    requested_at: datetime
    completed_at: datetime | None = None

    class Settings:
        name = "data_deletion_requests"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("channel_id", 1), ("confirmation_code", 1)],
                unique=True,
                name="channel_code_unique",
            ),
        ]

    def to_entity(self) -> DataDeletionRequest:
        return DataDeletionRequest(
            id=str(self.id), **self.model_dump(exclude={"id", "revision_id"})
        )


class BeanieDataDeletionRequests:
    """`DataDeletionRequests` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(DataDeletionDocument)

    async def add(self, request: DataDeletionRequest) -> DataDeletionRequest:
        document = DataDeletionDocument(**request.model_dump(exclude={"id", "tenant_id"}))
        return (await self._scoped.insert(document)).to_entity()

    async def by_code(self, channel_id: str, code: str) -> DataDeletionRequest | None:
        found = await self._scoped.find(
            {"channel_id": channel_id, "confirmation_code": code}, limit=1
        )
        return found[0].to_entity() if found else None
