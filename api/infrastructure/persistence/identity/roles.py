"""Roles in MongoDB: tenant-owned, names unique per tenant regardless of case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import IndexModel, UpdateMany, UpdateOne
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
    One read finds, across tenants (a platform step, so not scoped), the system roles
    that differ from the catalog and the ones a tenant lacks; one batch of updates then
    touches only roles that differ; system roles cannot be edited by tenants, so nothing of
    theirs is overwritten. A system role added to the catalog later (e.g. `agent`) is created for
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
        """One command when nothing is to change (a start-up of every process, and of every
        test's app): the read of what each tenant has; then only the writes needed."""
        collection = RoleDocument.get_pymongo_collection()
        tenants = await self._tenants(collection)
        await self._create_missing(collection, tenants)
        outdated = {name for tenant in tenants for name in tenant["outdated"] if name}
        now = utcnow()
        upgrades = [
            UpdateMany(
                {"system": True, "name_lower": name_key(name),
                 "permissions": {"$ne": permissions}},
                {"$set": {"permissions": permissions, "updated_at": now}},
            )
            for name, permissions in self._definitions.items()
            if name_key(name) in outdated
        ]  # fmt: skip
        if upgrades:
            with database_errors():
                await collection.bulk_write(upgrades, ordered=False)

    async def _tenants(self, collection: AsyncCollection[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per tenant with system roles or a role of a system role's name: the names its
        roles use (its own roles' included), whether any is a system role, and the names of
        its system roles whose permissions differ from the catalog's."""
        names = sorted({name_key(name) for name in [*self._definitions, *self._descriptions]})
        differs: list[Any] = [
            {"$and": [{"$eq": ["$name_lower", name_key(name)]},
                      {"$ne": ["$permissions", {"$literal": permissions}]}]}
            for name, permissions in self._definitions.items()
        ]  # fmt: skip
        outdated = {"$and": [{"$eq": ["$system", True]}, {"$or": differs or [False]}]}
        with database_errors():
            cursor = await collection.aggregate([
                {"$match": {"$or": [{"system": True}, {"name_lower": {"$in": names}}]}},
                {"$group": {
                    "_id": f"${TENANT_FIELD}",
                    "names": {"$addToSet": "$name_lower"},
                    "system": {"$max": "$system"},
                    "outdated": {"$addToSet": {"$cond": [outdated, "$name_lower", None]}},
                }},
            ])  # fmt: skip
            return await cursor.to_list()

    async def _create_missing(
        self, collection: AsyncCollection[dict[str, Any]], tenants: list[dict[str, Any]]
    ) -> None:
        """Only the tenants that lack a role get it: a start-up writes nothing once all
        have it."""
        if not self._descriptions:
            return
        missing = {
            name: {
                t["_id"]
                for t in tenants
                if t["system"] is True and name_key(name) not in t["names"]
            }
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
