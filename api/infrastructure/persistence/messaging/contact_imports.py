"""Contact imports in MongoDB: the imports (`contact_imports`), their rows' results, one
document per chunk (`contact_import_rows`, unique per tenant, import and first row), and
the bulk contact writes of a chunk.

A worker holds a running import by a lease (`lease_token`, `lease_until`); every progress
write names the token, so a run that lost its lease (it stalled, another took over)
changes nothing more. A free import has `lease_until` at the epoch, so "free or expired"
is one range condition (no `$or`, which SecantusDB answers with a scan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import ASCENDING, DESCENDING, IndexModel

from api.domain.errors import Conflict
from api.domain.messaging.contacts import ContactSource
from api.domain.messaging.imports import (
    ContactImport,
    ContactImportPage,
    ContactUpsert,
    ImportCounts,
    ImportFormat,
    ImportStatus,
    KnownContact,
    RowResult,
    StaleImport,
)
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)
from api.infrastructure.persistence.base.writes import InsertOp, UpdateOp, WriteOp
from api.infrastructure.persistence.messaging.contacts import ContactDocument
from api.infrastructure.persistence.messaging.cursors import after_cursor, encode_cursor

FREE = datetime(1970, 1, 1, tzinfo=UTC)
_NEWEST = [("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
_ACTIVE = [ImportStatus.QUEUED.value, ImportStatus.RUNNING.value]
_CHUNKS_PER_READ = 20
_UPSERT_TRIES = 3


class ContactImportDocument(TenantOwnedDocument):
    file_id: str
    filename: str
    format: ImportFormat
    mapping: dict[str, str]
    dry_run: bool = False
    default_country: str | None = None
    batch_size: int
    status: ImportStatus = ImportStatus.QUEUED
    total_rows: int | None = None
    processed_rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None
    owner_id: str | None = None
    attempts: int = 0
    lease_token: str | None = None
    lease_until: datetime = FREE
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    class Settings:
        name = "contact_imports"
        keep_nulls = False  # `started_at` absent until taken, so `$min` sets it
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_newest",
            ),
            # The sweeper's platform-level reads (imports nobody moves, in any tenant).
            IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)], name="stalled"),
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="waiting"),
        ]

    def to_entity(self) -> ContactImport:
        return ContactImport(
            id=str(self.id),
            **self.model_dump(exclude={"id", "revision_id", "lease_token", "lease_until"}),
            lease_until=None if self.lease_until <= FREE else self.lease_until,
        )


class ImportChunkDocument(TenantOwnedDocument):
    import_id: str
    first_row: int
    results: list[dict[str, Any]]

    class Settings:
        name = "contact_import_rows"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("import_id", 1), ("first_row", 1)],
                unique=True,
                name="import_chunk_unique",
            ),
        ]


class BeanieContactImportRepository:
    """`ContactImportRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactImportDocument)

    async def add(self, contact_import: ContactImport) -> ContactImport:
        fields = contact_import.model_dump(exclude={"id", "tenant_id", "lease_until"})
        document = await self._scoped.insert(ContactImportDocument(**fields))
        return document.to_entity()

    async def get(self, import_id: str) -> ContactImport | None:
        document = await self._scoped.get(import_id)
        return document.to_entity() if document else None

    async def page(self, *, cursor: str | None, limit: int) -> ContactImportPage:
        filter = after_cursor("created_at", cursor)
        found = await self._scoped.find(filter, sort=_NEWEST, limit=limit + 1)
        items = [d.to_entity() for d in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        next_cursor = encode_cursor(last.created_at, str(last.id)) if last else None
        return ContactImportPage(items=items, next_cursor=next_cursor)

    async def claim(
        self, import_id: str, lease_token: str, *, now: datetime, lease_until: datetime
    ) -> ContactImport | None:
        oid = to_object_id(import_id)
        if oid is None:
            return None
        taken = await self._scoped.apply_where(
            {"_id": oid, "status": {"$in": _ACTIVE}, "lease_until": {"$lte": now}},
            {
                "$set": {"status": ImportStatus.RUNNING.value, "lease_token": lease_token,
                         "lease_until": lease_until},
                "$inc": {"attempts": 1},
                "$min": {"started_at": now},
            },
        )  # fmt: skip
        return await self.get(import_id) if taken else None

    async def set_total(self, import_id: str, lease_token: str, total_rows: int) -> bool:
        return await self._held(import_id, lease_token, {"$set": {"total_rows": total_rows}})

    async def checkpoint(
        self,
        import_id: str,
        lease_token: str,
        *,
        processed_before: int,
        processed_after: int,
        counts: ImportCounts,
        lease_until: datetime,
    ) -> bool:
        return await self._held(
            import_id, lease_token,
            {"$set": {"processed_rows": processed_after, "lease_until": lease_until},
             "$inc": counts.model_dump(),
             "$max": {"total_rows": processed_after}},  # a count that fell short
            processed_rows=processed_before,
        )  # fmt: skip

    async def release(self, import_id: str, lease_token: str) -> None:
        await self._held(import_id, lease_token, {"$set": {"lease_until": FREE}})

    async def finish(
        self,
        import_id: str,
        lease_token: str,
        *,
        status: ImportStatus,
        at: datetime,
        error: str | None = None,
        total_rows: int | None = None,
    ) -> bool:
        fields: dict[str, Any] = {"status": status.value, "finished_at": at, "lease_until": FREE}
        if error is not None:
            fields["error"] = error
        if total_rows is not None:
            fields["total_rows"] = total_rows
        return await self._held(
            import_id, lease_token, {"$set": fields, "$unset": {"lease_token": ""}}
        )

    async def _held(
        self, import_id: str, lease_token: str, update: dict[str, Any], **condition: Any
    ) -> bool:
        oid = to_object_id(import_id)
        if oid is None:
            return False
        filter = {"_id": oid, "lease_token": lease_token,
                  "status": ImportStatus.RUNNING.value, **condition}  # fmt: skip
        return await self._scoped.apply_where(filter, update)


class PlatformStaleImports:
    """`StaleImports` adapter (platform-level by design; read-only, ids only)."""

    async def due(self, *, now: datetime, queued_before: datetime, limit: int) -> list[StaleImport]:
        collection = ContactImportDocument.get_pymongo_collection()
        found: list[StaleImport] = []
        for filter in (
            {"status": ImportStatus.RUNNING.value, "lease_until": {"$lte": now}},
            {"status": ImportStatus.QUEUED.value, "created_at": {"$lte": queued_before}},
        ):
            with database_errors():
                cursor = collection.find(filter, {TENANT_FIELD: 1}).limit(limit)
                found += [StaleImport(tenant_id=row[TENANT_FIELD], import_id=str(row["_id"]))
                          async for row in cursor]  # fmt: skip
        return found[:limit]


class BeanieImportResults:
    """`ImportResults` adapter: one document per chunk."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ImportChunkDocument)

    async def save(
        self, import_id: str, first_row: int, results: list[RowResult]
    ) -> list[RowResult]:
        rows = [r.model_dump(mode="json", exclude_none=True) for r in results]
        try:
            await self._scoped.insert(
                ImportChunkDocument(import_id=import_id, first_row=first_row, results=rows)
            )
        except Conflict:  # stored by an earlier run of this chunk: those results stand
            found = await self._scoped.find(tenant_first(import_id=import_id,
                                                         first_row=first_row), limit=1)  # fmt: skip
            if not found:
                raise
            return [RowResult(**row) for row in found[0].results]
        return results

    async def chunks(self, import_id: str) -> AsyncIterator[list[RowResult]]:
        after = 0
        while True:
            found = await self._scoped.find(
                tenant_first(import_id=import_id, first_row={"$gt": after}),
                sort=[("first_row", SortDirection.ASCENDING)],
                limit=_CHUNKS_PER_READ,
            )
            for chunk in found:
                yield [RowResult(**row) for row in chunk.results]
            if len(found) < _CHUNKS_PER_READ:
                return
            after = found[-1].first_row


class MongoImportContacts:
    """`ImportContacts` adapter on the contacts collection (the tenant's live contacts)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ContactDocument)

    async def known(self, phones: Sequence[str]) -> dict[str, KnownContact]:
        if not phones:
            return {}
        collection = ContactDocument.get_pymongo_collection()
        filter = self._scoped.scope(tenant_first(phone={"$in": list(phones)}))
        with database_errors():
            cursor = collection.find(filter, {"phone": 1, "tags": 1, "attributes": 1})
            return {
                row["phone"]: KnownContact(phone=row["phone"], tags=frozenset(row.get("tags", [])),
                                           attribute_keys=frozenset(row.get("attributes", {})))
                async for row in cursor
            }  # fmt: skip

    async def upsert(self, changes: Sequence[ContactUpsert], at: datetime) -> None:
        """New numbers are inserted (half the cost of an upsert on the embedded server),
        the others upserted, in row order. When an insert meets a number taken meanwhile
        (an inbound message, a contact made by hand), the chunk is written again with
        upserts only: every write here is idempotent."""
        operations: list[WriteOp] = [
            InsertOp(_new_contact(c, at)) if c.new else
            UpdateOp(tenant_first(phone=c.phone), _upsert_update(c, at), upsert=True)
            for c in changes
        ]  # fmt: skip
        for attempt in range(_UPSERT_TRIES):
            try:
                await self._scoped.bulk_write(operations, ordered=True)
                return
            except Conflict:
                if attempt == _UPSERT_TRIES - 1:
                    raise
                operations = [UpdateOp(tenant_first(phone=c.phone), _upsert_update(c, at),
                                       upsert=True) for c in changes]  # fmt: skip


def _new_contact(change: ContactUpsert, at: datetime) -> ContactDocument:
    return ContactDocument(
        phone=change.phone, name=change.name, email=change.email, language=change.language,
        attributes=dict(change.attributes), tags=list(change.tags), opted_out=False,
        source=ContactSource.IMPORT, created_at=at, updated_at=at,
    )  # fmt: skip


def _upsert_update(change: ContactUpsert, at: datetime) -> dict[str, dict[str, Any]]:
    sets: dict[str, Any] = {"updated_at": at}
    for name in ("name", "email", "language"):
        value = getattr(change, name)
        if value is not None:
            sets[name] = value
    for key, value in change.attributes.items():  # keys are checked: [A-Za-z_][A-Za-z0-9_]*
        sets[f"attributes.{key}"] = value
    on_insert: dict[str, Any] = {
        "source": ContactSource.IMPORT.value, "created_at": at, "opted_out": False,
    }  # fmt: skip
    if not change.attributes:
        on_insert["attributes"] = {}
    if not change.tags:
        on_insert["tags"] = []
    update: dict[str, dict[str, Any]] = {"$set": sets, "$setOnInsert": on_insert}
    if change.tags:
        update["$addToSet"] = {"tags": {"$each": list(change.tags)}}
    return update
