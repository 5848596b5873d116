"""Tenant lookups for request routing, cached in-process for a few seconds.

Every request resolves its tenant; caching the answer (including "no such tenant") for
`TENANT_CACHE_TTL_SECONDS` keeps that off the database. A tenant suspended through this
process is dropped from its cache at once (`forget`); other replicas see it within the
TTL. A TTL of 0 disables the cache.
"""

from __future__ import annotations

from api.common.ttl_cache import TtlCache
from api.domain.tenants.tenant import Tenant, TenantRepository


class CachingTenantDirectory:
    """`TenantDirectory` adapter over a `TenantRepository`."""

    def __init__(self, tenants: TenantRepository, ttl_seconds: float) -> None:
        self._tenants = tenants
        self._cache: TtlCache[str, Tenant | None] = TtlCache(ttl_seconds)

    async def by_id(self, tenant_id: str) -> Tenant | None:
        return await self._cache.get(f"id:{tenant_id}", lambda: self._tenants.get(tenant_id))

    async def by_subdomain(self, subdomain: str) -> Tenant | None:
        return await self._cache.get(
            f"sub:{subdomain}", lambda: self._tenants.get_by_subdomain(subdomain)
        )

    def forget(self, tenant: Tenant) -> None:
        self._cache.drop(f"id:{tenant.id}")
        self._cache.drop(f"sub:{tenant.subdomain}")
