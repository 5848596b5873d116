"""Contact exports in MongoDB, within the current tenant. Every change of state is one
conditional update on the export's id (no read-then-write), so two runs of one export's
job never both write it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel

from api.domain.messaging.contact_exports import ContactExport, DueExport, ExportStatus
from api.domain.messaging.contacts import ContactQuery
from api.infrastructure.persistence.base.leases import claim_under_lease, due_for_purge
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)


class ContactExportDocument(TenantOwnedDocument):
    status: ExportStatus = ExportStatus.QUEUED
    query: ContactQuery
    segment_id: str | None = None
    requested_by: str | None = None
    total_rows: int = 0
    file_id: str | None = None
    reason: str | None = None
    attempts: int = 0
    lease_until: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    purge_at: datetime | None = None

    class Settings:
        name = "contact_exports"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_newest",
            ),
            # The sweep's cross-tenant read: only exports with a file still to delete
            # have a date here (cleared once deleted), so its range stays small.
            IndexModel([("purge_at", ASCENDING)], name="purge_due"),
        ]

    def to_entity(self) -> ContactExport:
        return ContactExport(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


class BeanieContactExportRepository:
    """`ContactExportRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactExportDocument)

    async def add(self, export: ContactExport) -> ContactExport:
        fields = export.model_dump(exclude={"id", "tenant_id"})
        return (await self._scoped.insert(ContactExportDocument(**fields))).to_entity()

    async def get(self, export_id: str) -> ContactExport | None:
        document = await self._scoped.get(export_id)
        return document.to_entity() if document else None

    async def claim(self, export_id: str, *, at: datetime, lease_until: datetime) -> bool:
        return await claim_under_lease(
            self._scoped, export_id, at=at, lease_until=lease_until,
            queued=ExportStatus.QUEUED.value, running=ExportStatus.RUNNING.value,
        )  # fmt: skip

    async def finish(
        self, export_id: str, *, file_id: str, total_rows: int, at: datetime, expires_at: datetime
    ) -> bool:
        return await self._change(
            export_id,
            {"status": ExportStatus.RUNNING.value},
            {"status": ExportStatus.DONE.value, "file_id": file_id, "total_rows": total_rows,
             "finished_at": at, "expires_at": expires_at, "purge_at": expires_at,
             "lease_until": None},
        )  # fmt: skip

    async def fail(self, export_id: str, *, reason: str, at: datetime) -> bool:
        return await self._change(
            export_id,
            {"status": {"$ne": ExportStatus.DONE.value}},
            {"status": ExportStatus.FAILED.value, "reason": reason, "finished_at": at,
             "lease_until": None},
        )  # fmt: skip

    async def release(self, export_id: str) -> None:
        await self._change(
            export_id,
            {"status": ExportStatus.RUNNING.value},
            {"status": ExportStatus.QUEUED.value, "lease_until": None},
        )

    async def purged(self, export_id: str, file_id: str) -> bool:
        return await self._change(
            export_id, {"file_id": file_id}, {"file_id": None, "purge_at": None}
        )

    async def _change(
        self, export_id: str, condition: dict[str, Any], fields: dict[str, Any]
    ) -> bool:
        oid = to_object_id(export_id)
        if oid is None:
            return False
        return await self._scoped.apply_where({"_id": oid, **condition}, {"$set": fields})


class PlatformExpiredExports:
    """`ExpiredExports` adapter (platform-level by design; read-only, ids only)."""

    async def due(self, at: datetime, limit: int) -> list[DueExport]:
        return [
            DueExport(tenant_id=tenant_id, export_id=record_id)
            for tenant_id, record_id in await due_for_purge(ContactExportDocument, at, limit)
        ]
