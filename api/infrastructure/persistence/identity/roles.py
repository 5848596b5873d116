"""Roles in MongoDB: tenant-owned, names unique per tenant regardless of case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.identity.roles import Role
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.names import name_key
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)

DUPLICATE_NAME = "A role with this name already exists."
_DUPLICATE_KEY = 11000
_UPGRADE_BATCH = 500
_IMMUTABLE = frozenset({"id", "_id", TENANT_FIELD, "name_lower"})
_FIELDS = {
    "name", "description", "permissions", "inherits", "departments_only", "system",
    "created_at", "updated_at",
}  # fmt: skip


class RoleDocument(TenantOwnedDocument):
    name: str
    name_lower: str  # name_key(name), kept in sync by the repository
    description: str = ""
    permissions: list[str] = Field(default_factory=list)
    inherits: list[str] = Field(default_factory=list)
    departments_only: bool = False
    system: bool = False
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "roles"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), ("name_lower", 1)], unique=True, name="tenant_name_unique"
            ),
        ]

    @classmethod
    def from_entity(cls, role: Role) -> RoleDocument:
        return cls(
            tenant_id=role.tenant_id or "",
            name_lower=name_key(role.name),
            **role.model_dump(include=_FIELDS),
        )

    def to_entity(self) -> Role:
        return Role(id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_FIELDS))


class BeanieRoleRepository:
    """`RoleRepository` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(RoleDocument)

    async def add(self, role: Role) -> Role:
        try:
            document = await self._scoped.insert(RoleDocument.from_entity(role))
        except Conflict as exc:
            raise Conflict(DUPLICATE_NAME) from exc
        return document.to_entity()

    async def get(self, role_id: str) -> Role | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(role_id)
        return document.to_entity() if document else None

    async def get_by_name(self, name: str) -> Role | None:
        """The role named `name`, compared without regard to case."""
        found = await self._scoped.find({"name_lower": name_key(name)}, limit=1)
        return found[0].to_entity() if found else None

    async def all(self) -> list[Role]:
        """Every role of this tenant, by name (case-insensitively)."""
        documents = await self._scoped.find(
            sort=[("name_lower", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)]
        )
        return [d.to_entity() for d in documents]

    async def update(self, role_id: str, changes: dict[str, object]) -> Role | None:
        """Set `changes`; None when no such role here; `Conflict` when the name is taken."""
        self._scoped.scope()
        refused = set(changes) & _IMMUTABLE
        if refused:
            raise ValueError(f"{sorted(refused)} cannot be changed")
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown role fields: {sorted(unknown)}")
        prepared: dict[str, Any] = {**changes, "updated_at": utcnow()}
        if isinstance(prepared.get("name"), str):
            prepared["name_lower"] = name_key(prepared["name"])
        try:
            document = await self._scoped.update(role_id, prepared)
        except Conflict as exc:
            raise Conflict(DUPLICATE_NAME) from exc
        return document.to_entity() if document else None

    async def delete(self, role_id: str) -> bool:
        self._scoped.scope()
        return await self._scoped.delete(role_id)


class SystemRoleUpgrade:
    """A `Startable`: every tenant's system roles grant what the catalog says today.

    Roles are written with the permissions of their time; when the catalog grows (e.g.
    `channels:*`), existing tenants' `owner` and `admin` must get the new permissions too.
    One update per system role, across tenants (a platform step, so not scoped), touching
    only roles that differ; system roles cannot be edited by tenants, so nothing of theirs
    is overwritten. A system role added to the catalog later (e.g. `agent`) is created for
    every tenant that has system roles but not this one; a tenant's own role that already
    has the name is left as it is. Idempotent (and safe when processes start together):
    every process runs it at start.
    """

    def __init__(
        self,
        definitions: Mapping[str, frozenset[str]],
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        self._definitions = {name: sorted(perms) for name, perms in definitions.items()}
        self._descriptions = dict(descriptions or {})

    async def start(self) -> None:
        collection = RoleDocument.get_pymongo_collection()
        await self._create_missing(collection)
        for name, permissions in self._definitions.items():
            with database_errors():
                await collection.update_many(
                    {"system": True, "name_lower": name_key(name),
                     "permissions": {"$ne": permissions}},
                    {"$set": {"permissions": permissions, "updated_at": utcnow()}},
                )  # fmt: skip

    async def _create_missing(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        if not self._descriptions:
            return
        with database_errors():
            tenants = set(await collection.distinct(TENANT_FIELD, {"system": True}))
            # Only the tenants that lack a role: a start-up writes nothing once all have it.
            missing = {
                name: tenants.difference(
                    await collection.distinct(TENANT_FIELD, {"name_lower": name_key(name)})
                )
                for name in self._descriptions
            }
        now = utcnow()
        requests = [
            UpdateOne(
                {TENANT_FIELD: tenant_id, "name_lower": name_key(name)},
                {"$setOnInsert": {
                    "name": name, "description": description,
                    "permissions": self._definitions.get(name, []), "inherits": [],
                    "system": True, "created_at": now, "updated_at": now,
                }},
                upsert=True,
            )
            for name, description in self._descriptions.items()
            for tenant_id in sorted(missing[name])
        ]  # fmt: skip
        for start in range(0, len(requests), _UPGRADE_BATCH):
            try:
                with database_errors():
                    await collection.bulk_write(
                        requests[start : start + _UPGRADE_BATCH], ordered=False
                    )
            except BulkWriteError as exc:  # another process created some at the same time
                errors = exc.details.get("writeErrors", [])
                if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                    raise
