"""What tests put in or read from the database directly: a test-only tenant-owned document
(`Note`), tenants, the tenant context, audit actions, the collections a test wrote to."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, ClassVar

from beanie import Document
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from api.common.clock import utcnow
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant, TenantStatus
from api.infrastructure.persistence.base.department_scoped import (
    DepartmentOwnedDocument,
    DepartmentScopedRepository,
)
from api.infrastructure.persistence.base.mongo import MongoClient
from api.infrastructure.persistence.base.scoped import TenantOwnedDocument, TenantScopedRepository
from api.infrastructure.persistence.tenants.tenants import PlatformTenantRepository


class Note(TenantOwnedDocument):
    """A tenant-owned document that exists only to exercise the scoped repository."""

    title: str
    body: str = ""
    votes: int = 0

    class Settings:
        name = "test_notes"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("tenant_id", 1), ("title", 1)], unique=True, name="tenant_title_unique")
        ]


class NoteRepository(TenantScopedRepository[Note]):
    document = Note


class RoutedNote(DepartmentOwnedDocument):
    """A department-routed document that exists only to exercise the department scope."""

    title: str
    votes: int = 0

    class Settings:
        name = "test_routed_notes"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("tenant_id", 1), ("department_id", 1)], name="tenant_department")
        ]


class RoutedNoteRepository(DepartmentScopedRepository[RoutedNote]):
    document = RoutedNote


TEST_DOCUMENT_MODELS: list[type[Document]] = [Note, RoutedNote]


async def create_tenant(
    subdomain: str, name: str | None = None, status: TenantStatus = TenantStatus.ACTIVE
) -> Tenant:
    now = utcnow()
    tenant = Tenant(
        name=name or subdomain.title(),
        subdomain=subdomain,
        status=status,
        created_at=now,
        updated_at=now,
    )
    return await PlatformTenantRepository().add(tenant)


def as_tenant(tenant: Tenant) -> AbstractContextManager[None]:
    """`with as_tenant(t):` runs the block in tenant t's context."""
    assert tenant.id is not None
    return tenant_context(TenantId(tenant.id))


async def audit_actions(mongo: MongoClient, db_name: str, tenant_id: str | None) -> list[str]:
    """The actions of a tenant's audit log, oldest first, as stored."""
    cursor = mongo[db_name]["audit_logs"].find({"tenant_id": tenant_id}).sort("created_at", 1)
    return [raw["action"] async for raw in cursor]


async def collections_with_documents(database: AsyncDatabase[Any]) -> list[str]:
    """The collections holding at least one document, asked in one command (a `$limit: 1`
    of each, joined by `$unionWith`): a test writes to a few of the ~60, and one command
    per collection (a `delete_many` each, the database serving one at a time) cost 20-55
    ms per test."""
    names = await database.list_collection_names()
    if not names:
        return []

    def first(name: str) -> list[dict[str, Any]]:
        return [{"$limit": 1}, {"$project": {"_id": 0, "name": {"$literal": name}}}]

    probe = first(names[0]) + [
        {"$unionWith": {"coll": name, "pipeline": first(name)}} for name in names[1:]
    ]
    cursor = await database[names[0]].aggregate(probe)
    return [row["name"] async for row in cursor]
