"""The company profile in MongoDB: one document per tenant (unique `tenant_id`)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pymongo import IndexModel

from api.domain.tenants.profile import DEFAULT_TIMEZONE, TenantProfile
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)


class TenantProfileDocument(TenantOwnedDocument):
    display_name: str | None = None
    logo_file_id: str | None = None
    brand_color: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    default_country: str | None = None
    locale: str | None = None
    email_footer: str | None = None
    opt_out_keywords: list[str] = []
    opt_in_keywords: list[str] = []
    updated_at: datetime | None = None

    class Settings:
        name = "tenant_profiles"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1)], unique=True, name="one_per_tenant"),
        ]

    def to_entity(self) -> TenantProfile:
        return TenantProfile(**self.model_dump(exclude={"id", "revision_id", TENANT_FIELD}))


class BeanieTenantProfileRepository:
    """`TenantProfileRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(TenantProfileDocument)

    async def get(self) -> TenantProfile | None:
        found = await self._scoped.find(limit=1)
        return found[0].to_entity() if found else None

    async def save(self, profile: TenantProfile) -> TenantProfile:
        await self._scoped.upsert({}, {"$set": profile.model_dump()})
        saved = await self.get()
        assert saved is not None  # noqa: S101 - just written
        return saved
