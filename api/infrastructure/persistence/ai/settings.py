"""AI settings of a tenant (allowed models, default model, daily quota): one document each,
and an in-process cache of them.

Every ask reads its tenant's settings (which models it may use, its quota):
`CachingAiSettings` keeps each tenant's for `AI_SETTINGS_CACHE_SECONDS` (0: off). A change
made through this process applies here at once (and a read that raced it is not kept);
other replicas see it within the TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from pymongo import IndexModel

from api.common.ttl_cache import TtlCache
from api.domain.ai.entities import AiTenantSettings
from api.domain.ai.ports import AiSettingsRepository
from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)


class AiSettingsDocument(TenantOwnedDocument):
    allowed_models: list[str] | None = None
    default_model: str | None = None
    daily_token_quota: int | None = None
    updated_at: datetime | None = None

    class Settings:
        name = "ai_settings"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1)], name="tenant", unique=True)
        ]


class MongoAiSettingsRepository:
    """`AiSettingsRepository` adapter, within the current tenant (fail closed: `TenantRequired`)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(AiSettingsDocument)

    async def get(self) -> AiTenantSettings:
        found = await self._scoped.find(limit=1)
        if not found:
            return AiTenantSettings()
        document = found[0]
        return AiTenantSettings(
            allowed_models=(
                tuple(document.allowed_models) if document.allowed_models is not None else None
            ),
            default_model=document.default_model,
            daily_token_quota=document.daily_token_quota,
            updated_at=document.updated_at,
        )

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings:
        fields = {
            "allowed_models": list(settings.allowed_models)
            if settings.allowed_models is not None
            else None,
            "default_model": settings.default_model,
            "daily_token_quota": settings.daily_token_quota,
            "updated_at": settings.updated_at,
        }
        await self._scoped.upsert({}, {"$set": fields})  # one document per tenant
        return settings


class CachingAiSettings:
    """`AiSettingsRepository` decorator: each tenant's settings kept `ttl_seconds`."""

    def __init__(
        self,
        inner: AiSettingsRepository,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._cache: TtlCache[str, AiTenantSettings] = TtlCache(ttl_seconds, clock)

    async def get(self) -> AiTenantSettings:
        tenant = current_tenant()  # fail closed, as the repository does
        return await self._cache.get(tenant, self._inner.get)

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings:
        async with self._cache.changing(current_tenant()):
            return await self._inner.put(settings)
