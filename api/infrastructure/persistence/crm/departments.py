"""Departments in MongoDB: tenant-owned, names unique per tenant regardless of case, and
an index for the memberships the authentication reads on every request of a limited user."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.business_hours import BusinessHours
from api.domain.departments import Department, DepartmentNameTaken, DepartmentPage, SlaTargets
from api.domain.errors import Conflict
from api.infrastructure.persistence.base.names import name_key
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)

NAME_TAKEN = "A department with this name already exists."
_FIELDS = {"name", "member_ids", "sla", "business_hours", "created_at", "updated_at"}
_CHANGEABLE = frozenset({"name", "member_ids", "sla", "business_hours"})


class DepartmentDocument(TenantOwnedDocument):
    name: str
    name_key: str  # name_key(name), kept in sync by the repository
    member_ids: list[str] = Field(default_factory=list)
    sla: SlaTargets = Field(default_factory=SlaTargets)
    business_hours: BusinessHours | None = None
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "departments"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("name_key", 1)], unique=True, name="department_name_unique"
            ),
            IndexModel([(TENANT_FIELD, 1), ("member_ids", 1)], name="department_members"),
        ]

    def to_entity(self) -> Department:
        return Department(
            id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_FIELDS)
        )


class BeanieDepartmentRepository:
    """`DepartmentRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(DepartmentDocument)

    async def add(self, department: Department) -> Department:
        document = DepartmentDocument(
            name_key=name_key(department.name), **department.model_dump(include=_FIELDS)
        )
        try:
            return (await self._scoped.insert(document)).to_entity()
        except Conflict as exc:
            raise DepartmentNameTaken(NAME_TAKEN) from exc

    async def get(self, department_id: str) -> Department | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(department_id)
        return document.to_entity() if document else None

    async def get_many(self, department_ids: Iterable[str]) -> list[Department]:
        ids = [oid for oid in (to_object_id(i) for i in set(department_ids)) if oid is not None]
        if not ids:
            self._scoped.scope()
            return []
        found = await self._scoped.find({"_id": {"$in": ids}})
        return [d.to_entity() for d in found]

    async def update(self, department_id: str, changes: dict[str, object]) -> Department | None:
        self._scoped.scope()
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"departments cannot change {sorted(unknown)}")
        prepared: dict[str, Any] = {**changes, "updated_at": utcnow()}
        for field in ("sla", "business_hours"):
            value = prepared.get(field)
            if hasattr(value, "model_dump"):
                prepared[field] = value.model_dump(mode="json")  # type: ignore[union-attr]
        if isinstance(changes.get("name"), str):
            prepared["name_key"] = name_key(str(changes["name"]))
        try:
            document = await self._scoped.update(department_id, prepared)
        except Conflict as exc:
            raise DepartmentNameTaken(NAME_TAKEN) from exc
        return document.to_entity() if document else None

    async def delete(self, department_id: str) -> bool:
        self._scoped.scope()
        return await self._scoped.delete(department_id)

    async def search(self, *, skip: int, limit: int) -> DepartmentPage:
        found = await self._scoped.find(
            sort=[("name_key", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)],
            skip=skip,
            limit=limit,
        )
        return DepartmentPage(
            items=[d.to_entity() for d in found], total=await self._scoped.count()
        )

    async def member_of(self, user_id: str) -> list[str]:
        found = await self._scoped.find(tenant_first(member_ids=user_id))
        return sorted(str(d.id) for d in found)
