"""Tenant lookups for request routing, cached in-process for a few seconds.

Every request resolves its tenant; caching the answer (including "no such tenant") for
`TENANT_CACHE_TTL_SECONDS` keeps that off the database. A tenant suspended through this
process is dropped from its cache at once (`forget`); other replicas see it within the
TTL. A TTL of 0 disables the cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from api.domain.tenants.tenant import Tenant, TenantRepository

_MAX_ENTRIES = 10_000


class CachingTenantDirectory:
    """`TenantDirectory` adapter over a `TenantRepository`."""

    def __init__(self, tenants: TenantRepository, ttl_seconds: float) -> None:
        self._tenants = tenants
        self._ttl = ttl_seconds
        self._entries: OrderedDict[str, tuple[float, Tenant | None]] = OrderedDict()

    async def by_id(self, tenant_id: str) -> Tenant | None:
        key = f"id:{tenant_id}"
        hit = self._lookup(key)
        if hit is not None:
            return hit[1]
        tenant = await self._tenants.get(tenant_id)
        self._store(key, tenant)
        return tenant

    async def by_subdomain(self, subdomain: str) -> Tenant | None:
        key = f"sub:{subdomain}"
        hit = self._lookup(key)
        if hit is not None:
            return hit[1]
        tenant = await self._tenants.get_by_subdomain(subdomain)
        self._store(key, tenant)
        return tenant

    def forget(self, tenant: Tenant) -> None:
        self._entries.pop(f"id:{tenant.id}", None)
        self._entries.pop(f"sub:{tenant.subdomain}", None)

    def _lookup(self, key: str) -> tuple[float, Tenant | None] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry

    def _store(self, key: str, tenant: Tenant | None) -> None:
        if self._ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self._ttl, tenant)
        self._entries.move_to_end(key)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)
