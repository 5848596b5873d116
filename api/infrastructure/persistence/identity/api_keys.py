"""API keys in MongoDB: tenant-owned, found by their prefix within the tenant."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import IndexModel

from api.domain.identity.api_keys import ApiKey, ApiKeyPage
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    to_object_id,
)

_FIELDS = {
    "name", "prefix", "secret_hash", "permissions", "created_by", "created_at",
    "expires_at", "last_used_at", "revoked_at",
}  # fmt: skip


class ApiKeyDocument(TenantOwnedDocument):
    name: str
    prefix: str
    secret_hash: str
    permissions: list[str] = Field(default_factory=list)
    created_by: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_keys"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("prefix", 1)], unique=True, name="api_key_prefix"),
            IndexModel([(TENANT_FIELD, 1), ("created_at", 1)], name="api_key_created"),
        ]

    def to_entity(self) -> ApiKey:
        return ApiKey(id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_FIELDS))


class BeanieApiKeyRepository:
    """`ApiKeyRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(ApiKeyDocument)

    async def add(self, key: ApiKey) -> ApiKey:
        document = ApiKeyDocument(**key.model_dump(include=_FIELDS))
        return (await self._scoped.insert(document)).to_entity()

    async def get(self, key_id: str) -> ApiKey | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(key_id)
        if document is None or document.revoked_at is not None:
            return None
        return document.to_entity()

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        found = await self._scoped.find({"prefix": prefix}, limit=1)
        return found[0].to_entity() if found else None

    async def search(self, *, skip: int, limit: int) -> ApiKeyPage:
        unrevoked = {"revoked_at": None}
        found = await self._scoped.find(
            unrevoked,
            sort=[("created_at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)],
            skip=skip,
            limit=limit,
        )
        total = await self._scoped.count(unrevoked)
        return ApiKeyPage(items=[d.to_entity() for d in found], total=total)

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        oid = to_object_id(key_id)
        if oid is None:
            self._scoped.scope()
            return None
        document = await self._scoped.apply_and_get(
            {"_id": oid, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
        return document.to_entity() if document else None

    async def touch(self, key_id: str, at: datetime) -> None:
        await self._scoped.apply(key_id, {"$set": {"last_used_at": at}})
