"""The composition root: the only place (with main.py and worker.py) naming concrete adapters.

`build_container` is called by the FastAPI lifespan (and later the worker) with the
long-lived clients it created; tests call it with their own. Clients and stateful adapters
are registered as instances; use cases are cheap and resolved per use.
"""

from __future__ import annotations

import punq
from redis.asyncio import Redis

from api.config import Settings
from api.domain.health import CachePing, DatabasePing
from api.domain.tenants import TenantDirectory, TenantRepository
from api.infrastructure.cache.redis import RedisPing
from api.infrastructure.persistence.mongo import MongoClient, MongoPing
from api.infrastructure.persistence.tenant_directory import CachingTenantDirectory
from api.infrastructure.persistence.tenants import PlatformTenantRepository
from api.usecases.health import CheckCacheHealth, CheckDatabaseHealth
from api.usecases.tenants import (
    CreateTenant,
    EnsureDefaultTenant,
    GetCurrentTenant,
    ListTenants,
    ResolveTenant,
    SetTenantStatus,
)


def build_container(settings: Settings, *, mongo: MongoClient, redis: Redis) -> punq.Container:
    container = punq.Container()
    container.register(Settings, instance=settings)
    container.register(Redis, instance=redis)

    # Ports -> adapters
    container.register(DatabasePing, instance=MongoPing(mongo))
    container.register(CachePing, instance=RedisPing(redis))
    tenants = PlatformTenantRepository()
    container.register(TenantRepository, instance=tenants)
    directory = CachingTenantDirectory(tenants, settings.tenancy.tenant_cache_ttl_seconds)
    container.register(TenantDirectory, instance=directory)

    # Use cases (ResolveTenant runs on every request: one shared, stateless instance)
    container.register(ResolveTenant, instance=ResolveTenant(directory))
    for use_case in (
        CheckDatabaseHealth,
        CheckCacheHealth,
        CreateTenant,
        EnsureDefaultTenant,
        GetCurrentTenant,
        ListTenants,
        SetTenantStatus,
    ):
        container.register(use_case)
    return container
