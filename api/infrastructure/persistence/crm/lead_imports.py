"""Lead imports in MongoDB (`crm_lead_imports`): the import with its rows' results (at
most `MAX_IMPORT_ROWS`, so the document stays small). A chunk's results are appended
with the counts and `processed_rows` in one update conditional on `processed_rows`, so
two runs of one import never both record a chunk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import DESCENDING, IndexModel

from api.domain.crm.lead_imports import (
    LeadImport,
    LeadImportPage,
    LeadImportStatus,
    LeadRowOutcome,
    LeadRowResult,
    StaleLeadImport,
)
from api.domain.imports import ImportFormat
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

_NEWEST = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
_ACTIVE = [LeadImportStatus.QUEUED.value, LeadImportStatus.RUNNING.value]


class LeadImportDocument(TenantOwnedDocument):
    file_id: str
    filename: str
    format: ImportFormat
    status: LeadImportStatus = LeadImportStatus.QUEUED
    total_rows: int
    processed_rows: int = 0
    created: int = 0
    skipped: int = 0
    failed: int = 0
    rows: list[LeadRowResult] = []
    error: str | None = None
    owner_id: str | None = None
    departments: list[str] | None = None
    attempts: int = 0
    touched_at: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    class Settings:
        name = "crm_lead_imports"
        keep_nulls = False  # `started_at` absent until started, so `$min` sets it
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_newest",
            ),
            # The sweeper's platform-level read (imports nobody moves, in any tenant).
            IndexModel([("status", 1), ("touched_at", 1)], name="stalled"),
        ]

    def to_entity(self) -> LeadImport:
        return LeadImport(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


class BeanieLeadImportRepository:
    """`LeadImportRepository` adapter."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(LeadImportDocument)

    async def add(self, lead_import: LeadImport) -> LeadImport:
        fields = lead_import.model_dump(exclude={"id", "tenant_id"})
        fields["touched_at"] = lead_import.touched_at or lead_import.created_at
        return (await self._scoped.insert(LeadImportDocument(**fields))).to_entity()

    async def get(self, import_id: str) -> LeadImport | None:
        found = await self._scoped.get(import_id)
        return found.to_entity() if found else None

    async def page(self, *, cursor: str | None, limit: int) -> LeadImportPage:
        found = await self._scoped.find(after_cursor("created_at", cursor), sort=_NEWEST,
                                        limit=limit + 1)  # fmt: skip
        items = [d.to_entity().model_copy(update={"rows": []}) for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last else None
        return LeadImportPage(items=items, next_cursor=next_cursor)

    async def start(self, import_id: str, at: datetime) -> LeadImport | None:
        oid = to_object_id(import_id)
        if oid is None:
            return None
        return await self._entity(await self._scoped.apply_and_get(
            {"_id": oid, "status": {"$in": _ACTIVE}},
            {"$set": {"status": LeadImportStatus.RUNNING.value, "touched_at": at},
             "$min": {"started_at": at}, "$inc": {"attempts": 1}},
        ))  # fmt: skip

    @staticmethod
    async def _entity(found: LeadImportDocument | None) -> LeadImport | None:
        return found.to_entity() if found else None

    async def checkpoint(
        self,
        import_id: str,
        *,
        processed_before: int,
        results: list[LeadRowResult],
        at: datetime,
    ) -> bool:
        oid = to_object_id(import_id)
        if oid is None:
            return False
        counts = dict.fromkeys((o.value for o in LeadRowOutcome), 0)
        for result in results:
            counts[result.outcome.value] += 1
        after = processed_before + len(results)
        update: dict[str, Any] = {
            "$set": {"processed_rows": after, "touched_at": at},
            "$inc": counts,
            "$push": {"rows": {"$each": [r.model_dump(exclude_none=True) for r in results]}},
            "$max": {"total_rows": after},  # a count that fell short
        }
        return await self._scoped.apply_where(
            {"_id": oid, "status": LeadImportStatus.RUNNING.value,
             "processed_rows": processed_before}, update,
        )  # fmt: skip

    async def finish(
        self, import_id: str, status: LeadImportStatus, at: datetime, error: str | None = None
    ) -> None:
        oid = to_object_id(import_id)
        if oid is None:
            return
        fields: dict[str, Any] = {"status": status.value, "finished_at": at}
        if error is not None:
            fields["error"] = error
        await self._scoped.apply_where({"_id": oid, "status": {"$in": _ACTIVE}}, {"$set": fields})


class PlatformStaleLeadImports:
    """`StaleLeadImports` adapter (platform-level by design; read-only, ids only)."""

    async def due(self, *, touched_before: datetime, limit: int) -> list[StaleLeadImport]:
        collection = LeadImportDocument.get_pymongo_collection()
        found: list[StaleLeadImport] = []
        for status in _ACTIVE:
            with database_errors():
                cursor = collection.find(
                    {"status": status, "touched_at": {"$lte": touched_before}}, {TENANT_FIELD: 1}
                ).limit(limit)
                found += [StaleLeadImport(tenant_id=row[TENANT_FIELD], import_id=str(row["_id"]))
                          async for row in cursor]  # fmt: skip
        return found[:limit]
