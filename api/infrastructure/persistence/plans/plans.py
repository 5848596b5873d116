"""Plans in MongoDB: platform-level data, unscoped by design (like tenants), and an
in-process cache of the plans the gate reads (`CachingPlans`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from api.common.clock import utcnow
from api.common.ttl_cache import TtlCache
from api.domain.errors import Conflict
from api.domain.plans import Plan, PlanLimits, PlanRepository
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.paging import window
from api.infrastructure.persistence.base.scoped import to_object_id
from api.infrastructure.persistence.identity.users import normalize_name

_UPDATABLE = frozenset({"name", "limits", "is_default"})
T = TypeVar("T")
_MAX_ENTRIES = 1_000  # cached plan reads (ids and names asked for) kept at most


class PlanDocument(Document):
    name: str
    name_key: str  # normalize_name(name): unique regardless of case
    limits: PlanLimits
    is_default: bool = False
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "plans"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("name_key", 1)], unique=True, name="name_unique"),
            IndexModel([("is_default", 1)], name="is_default"),
        ]

    def to_entity(self) -> Plan:
        return Plan(
            id=str(self.id), name=self.name, limits=self.limits, is_default=self.is_default,
            created_at=self.created_at, updated_at=self.updated_at,
        )  # fmt: skip


def _taken(name: str) -> Conflict:
    return Conflict(f"A plan named '{name}' already exists.")


class MongoPlanRepository:
    """`PlanRepository` adapter. Platform plane: not tenant-scoped, on purpose."""

    async def list(self, *, skip: int, limit: int) -> tuple[list[Plan], int]:
        with database_errors():
            total = await PlanDocument.find({}).count()
            bounds = window(skip, limit)
            if bounds is None:
                return [], total
            query = PlanDocument.find({}).sort("name_key").skip(bounds.skip)
            documents = await query.limit(bounds.limit).to_list()
        return [d.to_entity() for d in documents], total

    async def get(self, plan_id: str) -> Plan | None:
        oid = to_object_id(plan_id)
        if oid is None:
            return None
        with database_errors():
            document = await PlanDocument.get(oid)
        return document.to_entity() if document else None

    async def get_by_name(self, name: str) -> Plan | None:
        with database_errors():
            document = await PlanDocument.find_one({"name_key": normalize_name(name)})
        return document.to_entity() if document else None

    async def default(self) -> Plan | None:
        with database_errors():
            document = await PlanDocument.find_one({"is_default": True})
        return document.to_entity() if document else None

    async def add(self, plan: Plan) -> Plan:
        document = PlanDocument(
            **plan.model_dump(exclude={"id"}), name_key=normalize_name(plan.name)
        )
        try:
            with database_errors():
                await document.insert()
        except DuplicateKeyError as exc:
            raise _taken(plan.name) from exc
        if plan.is_default:
            await self._only_default(document.id)
        return document.to_entity()

    async def update(self, plan_id: str, changes: dict[str, object]) -> Plan | None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"these plan fields cannot be changed here: {sorted(unknown)}")
        oid = to_object_id(plan_id)
        if oid is None:
            return None
        values: dict[str, Any] = dict(changes)
        if isinstance(values.get("limits"), PlanLimits):
            values["limits"] = values["limits"].model_dump()
        if isinstance(values.get("name"), str):
            values["name_key"] = normalize_name(values["name"])
        values["updated_at"] = utcnow()
        collection = PlanDocument.get_pymongo_collection()
        try:
            with database_errors():
                result = await collection.update_one({"_id": oid}, {"$set": values})
        except DuplicateKeyError as exc:
            raise _taken(str(changes.get("name"))) from exc
        if not result.matched_count:
            return None
        if values.get("is_default") is True:
            await self._only_default(oid)
        return await self.get(plan_id)

    async def delete(self, plan_id: str) -> bool:
        oid = to_object_id(plan_id)
        if oid is None:
            return False
        with database_errors():
            result = await PlanDocument.get_pymongo_collection().delete_one({"_id": oid})
        return bool(result.deleted_count)

    async def _only_default(self, keep: Any) -> None:
        """Clear the default flag on every plan but `keep`."""
        collection = PlanDocument.get_pymongo_collection()
        with database_errors():
            await collection.update_many(
                {"is_default": True, "_id": {"$ne": keep}}, {"$set": {"is_default": False}}
            )


class CachingPlans:
    """`PlanRepository` decorator: the plans the gate reads on every limited action (the
    default plan, a plan by id or name) kept in process `ttl_seconds` (0: off).

    Every ask, send or upload of a tenant without a plan of its own read the default plan
    (`plans {is_default}`): a database command each. A change made through this process
    (add, update, delete) empties the cache at once, and a read that raced it is not kept;
    other processes (API replicas, workers) see it within the TTL. Lists are not cached."""

    def __init__(
        self, inner: PlanRepository, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._inner = inner
        self._cache: TtlCache[tuple[str, str], Plan | None] = TtlCache(
            ttl_seconds, clock, max_entries=_MAX_ENTRIES
        )

    async def _change(self, write: Awaitable[T]) -> T:
        """Run a write of plans, every entry dropped (a read under way is not kept)."""
        async with self._cache.changing():
            return await write

    async def list(self, *, skip: int, limit: int) -> tuple[list[Plan], int]:
        return await self._inner.list(skip=skip, limit=limit)

    async def get(self, plan_id: str) -> Plan | None:
        return await self._cache.get(("id", plan_id), lambda: self._inner.get(plan_id))

    async def get_by_name(self, name: str) -> Plan | None:
        key = ("name", normalize_name(name))
        return await self._cache.get(key, lambda: self._inner.get_by_name(name))

    async def default(self) -> Plan | None:
        return await self._cache.get(("default", ""), self._inner.default)

    async def add(self, plan: Plan) -> Plan:
        return await self._change(self._inner.add(plan))

    async def update(self, plan_id: str, changes: dict[str, object]) -> Plan | None:
        return await self._change(self._inner.update(plan_id, changes))

    async def delete(self, plan_id: str) -> bool:
        return await self._change(self._inner.delete(plan_id))
