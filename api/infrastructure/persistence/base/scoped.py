"""The fail-closed base of every tenant-owned repository.

`TenantScopedRepository` takes the tenant from the context (never from its callers), adds
`tenant_id == current` to every find, count, update, delete and aggregate (as the first
`$match`), stamps it on insert, and raises `TenantRequired` when no tenant is set. Filters
go to the server as one plain dict (SecantusDB answers `$and` with a collection scan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from beanie import Document, SortDirection
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from api.domain.errors import Conflict
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.mongo import database_errors

TENANT_FIELD = "tenant_id"
_CROSS_COLLECTION_STAGES = frozenset({"$lookup", "$graphLookup", "$unionWith", "$out", "$merge"})


class TenantOwnedDocument(Document):
    """Base of documents that belong to one tenant; every index should start with tenant_id."""

    tenant_id: str = ""  # stamped by the repository from the context

    class Settings:
        indexes: ClassVar[list[IndexModel]] = [IndexModel([(TENANT_FIELD, 1)])]


D = TypeVar("D", bound=TenantOwnedDocument)


def to_object_id(raw: str | ObjectId) -> ObjectId | None:
    """An ObjectId from an API id, or None when the string is not one (answered as 404)."""
    if isinstance(raw, ObjectId):
        return raw
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        return None


class TenantScopedRepository(Generic[D]):
    """CRUD on one tenant-owned document class, always within the current tenant."""

    document: type[D]

    def __init__(self, document: type[D] | None = None) -> None:
        if document is not None:
            self.document = document

    def scope(self, filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The filter with the current tenant added; raises `TenantRequired` without one."""
        tenant_id = current_tenant()
        scoped = dict(filter or {})
        if scoped.get(TENANT_FIELD, tenant_id) != tenant_id:
            raise ValueError("a tenant-scoped query cannot name another tenant")
        scoped[TENANT_FIELD] = tenant_id
        if "_id" in scoped:
            # `_id` first: SecantusDB's planner picks the index from the first key (real
            # MongoDB does not care about the order).
            scoped = {"_id": scoped.pop("_id"), **scoped}
        return scoped

    async def get(self, id: str | ObjectId) -> D | None:
        oid = to_object_id(id)
        if oid is None:
            return None
        with database_errors():
            return await self.document.find_one(self.scope({"_id": oid}))

    async def find(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        sort: list[tuple[str, SortDirection]] | None = None,
        skip: int = 0,
        limit: int | None = None,
    ) -> list[D]:
        query = self.document.find(self.scope(filter))
        if sort:
            query = query.sort(sort)
        if skip:
            query = query.skip(skip)
        if limit is not None:
            query = query.limit(limit)
        with database_errors():
            return await query.to_list()

    async def count(self, filter: Mapping[str, Any] | None = None) -> int:
        with database_errors():
            return await self.document.find(self.scope(filter)).count()

    async def insert(self, document: D) -> D:
        tenant_id = current_tenant()
        if document.tenant_id not in ("", tenant_id):
            raise ValueError("cannot insert a document for another tenant")
        document.tenant_id = tenant_id
        try:
            with database_errors():
                await document.insert()
        except DuplicateKeyError as exc:
            raise Conflict("A resource with these unique values already exists.") from exc
        return document

    async def update(self, id: str | ObjectId, changes: Mapping[str, Any]) -> D | None:
        """Set `changes` on the document with this id in this tenant; None when absent."""
        if not await self.apply(id, {"$set": dict(changes)}):
            return None
        return await self.get(id)

    async def apply(self, id: str | ObjectId, update: Mapping[str, Mapping[str, Any]]) -> bool:
        """Apply update operators (`$set`, `$inc`, ...) to the document with this id in
        this tenant; False when absent. A unique index refusing the change is `Conflict`."""
        if any(TENANT_FIELD in fields or "_id" in fields for fields in update.values()):
            raise ValueError("tenant_id and _id cannot be changed")
        oid = to_object_id(id)
        if oid is None:
            return False
        try:
            with database_errors():
                result = await self.document.get_pymongo_collection().update_one(
                    self.scope({"_id": oid}), dict(update)
                )
        except DuplicateKeyError as exc:
            raise Conflict("A resource with these unique values already exists.") from exc
        return result.matched_count == 1

    async def delete(self, id: str | ObjectId) -> bool:
        oid = to_object_id(id)
        if oid is None:
            return False
        with database_errors():
            result = await self.document.get_pymongo_collection().delete_one(
                self.scope({"_id": oid})
            )
        return result.deleted_count == 1

    async def delete_many(self, filter: Mapping[str, Any] | None = None) -> int:
        with database_errors():
            result = await self.document.get_pymongo_collection().delete_many(self.scope(filter))
        return result.deleted_count

    async def aggregate(self, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run `pipeline` after a first `$match` on the current tenant.

        Stages that read or write other collections could cross tenants and are refused.
        """
        for stage in pipeline:
            crossing = _CROSS_COLLECTION_STAGES.intersection(stage)
            if crossing:
                raise ValueError(
                    f"{sorted(crossing)[0]} is not allowed in a tenant-scoped pipeline"
                )
        stages = [{"$match": self.scope()}, *pipeline]
        with database_errors():
            cursor = await self.document.get_pymongo_collection().aggregate(stages)
            return [dict(row) async for row in cursor]
