"""`CachingAiSettings`: a tenant's AI settings kept in process for a TTL, never another
tenant's, and a change made through the process seen at once."""

from __future__ import annotations

import asyncio

import pytest

from api.domain.ai.entities import AiTenantSettings
from api.domain.errors import TenantRequired
from api.domain.tenancy import TenantId, current_tenant, tenant_context
from api.infrastructure.persistence.ai.settings import CachingAiSettings


class Stored:
    """Each tenant's stored settings (what the database holds), counting reads; a read
    may be held mid-way by a test (`gate`)."""

    def __init__(self) -> None:
        self.by_tenant: dict[str, AiTenantSettings] = {}
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def get(self) -> AiTenantSettings:
        self.reads += 1
        found = self.by_tenant.get(current_tenant(), AiTenantSettings())
        if self.gate is not None:
            self.reading.set()
            await self.gate.wait()
        return found

    async def put(self, settings: AiTenantSettings) -> AiTenantSettings:
        self.by_tenant[current_tenant()] = settings
        return settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


A, B = TenantId("tenant-a"), TenantId("tenant-b")


async def test_settings_are_read_once_per_ttl_and_per_tenant() -> None:
    stored, clock = Stored(), Clock()
    stored.by_tenant[A] = AiTenantSettings(default_model="a-model")
    stored.by_tenant[B] = AiTenantSettings(default_model="b-model")
    cache = CachingAiSettings(stored, ttl_seconds=5, clock=clock)
    with tenant_context(A):
        assert (await cache.get()).default_model == "a-model"
        assert (await cache.get()).default_model == "a-model"
    assert stored.reads == 1
    with tenant_context(B):  # never the other tenant's
        assert (await cache.get()).default_model == "b-model"
    assert stored.reads == 2
    # Changed elsewhere (another replica): seen once the TTL has run out.
    stored.by_tenant[A] = AiTenantSettings(default_model="a-new")
    with tenant_context(A):
        clock.now += 4.9
        assert (await cache.get()).default_model == "a-model"
        clock.now += 0.2
        assert (await cache.get()).default_model == "a-new"
    assert stored.reads == 3


async def test_a_change_through_the_process_applies_at_once() -> None:
    stored, clock = Stored(), Clock()
    cache = CachingAiSettings(stored, ttl_seconds=60, clock=clock)
    with tenant_context(A):
        assert (await cache.get()).allowed_models is None
        await cache.put(AiTenantSettings(allowed_models=("llama3.2:latest",)))
        assert (await cache.get()).allowed_models == ("llama3.2:latest",)
    with tenant_context(B):
        assert (await cache.get()).allowed_models is None


async def test_a_read_that_raced_a_change_is_not_kept() -> None:
    stored, clock = Stored(), Clock()
    cache = CachingAiSettings(stored, ttl_seconds=60, clock=clock)
    gate = stored.gate = asyncio.Event()
    with tenant_context(A):
        reading = asyncio.create_task(cache.get())  # reads the old settings, held
        async with asyncio.timeout(5):
            await stored.reading.wait()
        stored.gate = None
        await cache.put(AiTenantSettings(daily_token_quota=10))
    gate.set()
    async with asyncio.timeout(5):
        assert (await reading).daily_token_quota is None  # what it read, given once...
    with tenant_context(A):
        assert (await cache.get()).daily_token_quota == 10  # ...but not kept


async def test_no_cache_with_a_ttl_of_zero_and_no_tenant_no_read() -> None:
    stored = Stored()
    cache = CachingAiSettings(stored, ttl_seconds=0)
    with tenant_context(A):
        await cache.get()
        await cache.get()
    assert stored.reads == 2
    with pytest.raises(TenantRequired):
        await cache.get()
    assert stored.reads == 2
