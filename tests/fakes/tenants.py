"""Fakes of the tenant ports: the platform's tenant repository and the routing directory."""

from __future__ import annotations

from api.domain.errors import Conflict
from api.domain.tenants.tenant import Tenant, TenantDirectory, TenantRepository, TenantStatus


class FakeTenants(TenantRepository):
    """Tenants by id, counting reads (to see what a cache saves)."""

    def __init__(self, *tenants: Tenant) -> None:
        self.by_id = {t.id: t for t in tenants}
        self.reads = 0

    async def get(self, tenant_id: str) -> Tenant | None:
        self.reads += 1
        return self.by_id.get(tenant_id)

    async def get_by_subdomain(self, subdomain: str) -> Tenant | None:
        self.reads += 1
        return next((t for t in self.by_id.values() if t.subdomain == subdomain), None)

    async def add(self, tenant: Tenant) -> Tenant:
        if await self.get_by_subdomain(tenant.subdomain):
            raise Conflict("taken")
        stored = tenant.model_copy(update={"id": f"{len(self.by_id) + 1:024x}"})
        self.by_id[stored.id] = stored
        return stored

    async def set_status(
        self, tenant_id: str, status: TenantStatus, *, only_from: TenantStatus | None = None
    ) -> Tenant | None:
        current = self.by_id.get(tenant_id)
        if only_from is not None and (current is None or current.status is not only_from):
            return None
        return await self.update(tenant_id, {"status": status})

    async def search(
        self, *, prefix: str | None, status: TenantStatus | None, skip: int, limit: int
    ) -> tuple[list[Tenant], int]:
        text = (prefix or "").strip().lower()
        found = sorted(
            (
                t
                for t in self.by_id.values()
                if (status is None or t.status is status)
                and (t.name.lower().startswith(text) or t.subdomain.startswith(text))
            ),
            key=lambda t: t.subdomain,
        )
        return found[skip : skip + limit], len(found)

    async def update(self, tenant_id: str, changes: dict[str, object]) -> Tenant | None:
        if tenant_id not in self.by_id:
            return None
        self.by_id[tenant_id] = self.by_id[tenant_id].model_copy(update=changes)
        return self.by_id[tenant_id]


class FakeDirectory(TenantDirectory):
    """Tenants by id, without a cache; nobody is found by subdomain."""

    def __init__(self, *tenants: Tenant) -> None:
        self.tenants = {t.id: t for t in tenants}

    async def by_id(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    async def by_subdomain(self, subdomain: str) -> Tenant | None:
        return None

    def forget(self, tenant: Tenant) -> None:
        return None
