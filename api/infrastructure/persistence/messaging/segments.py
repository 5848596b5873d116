"""Segments in MongoDB, within the current tenant; a name is unique per tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.messaging.contacts import SegmentFilter
from api.domain.messaging.segments import Segment
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)


class SegmentDocument(TenantOwnedDocument):
    name: str
    filter: SegmentFilter
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "segments"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("name", 1)], unique=True, name="tenant_name_unique"),
        ]

    def to_entity(self) -> Segment:
        return Segment(id=str(self.id), **self.model_dump(exclude={"id", "revision_id",
                                                                   TENANT_FIELD}))  # fmt: skip


class BeanieSegmentRepository:
    """`SegmentRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(SegmentDocument)

    async def add(self, segment: Segment) -> Segment:
        document = SegmentDocument(**segment.model_dump(exclude={"id"}))
        return (await self._scoped.insert(document)).to_entity()

    async def get(self, segment_id: str) -> Segment | None:
        document = await self._scoped.get(segment_id)
        return document.to_entity() if document else None

    async def page(self, *, skip: int, limit: int) -> tuple[list[Segment], int]:
        found = await self._scoped.find(
            sort=[("name", SortDirection.ASCENDING)], skip=skip, limit=limit
        )
        return [d.to_entity() for d in found], await self._scoped.count()

    async def update(self, segment_id: str, changes: dict[str, Any]) -> Segment | None:
        document = await self._scoped.update(segment_id, {**changes, "updated_at": utcnow()})
        return document.to_entity() if document else None

    async def delete(self, segment_id: str) -> bool:
        return await self._scoped.delete(segment_id)
