"""Use cases about tenants: resolving one for a request, creating, reading."""

from __future__ import annotations

from api.common.clock import utcnow
from api.domain.errors import (
    Conflict,
    NotFound,
)
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import (
    Tenant,
    TenantDirectory,
    TenantRepository,
    TenantStatus,
    normalize_subdomain,
)


class CreateTenant:
    """Create a tenant.

    Rules: the subdomain is a lower-case DNS label and not reserved; it is unique across
    the platform (`Conflict` otherwise); a new tenant is active.
    """

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self, name: str, subdomain: str) -> Tenant:
        now = utcnow()
        tenant = Tenant(
            name=name.strip(),
            subdomain=normalize_subdomain(subdomain),
            created_at=now,
            updated_at=now,
        )
        return await self._tenants.add(tenant)


class SetTenantStatus:
    """Suspend or reactivate a tenant.

    Rules: a suspended tenant's requests are refused at once by this process and within
    the directory's cache TTL by every other replica; an unknown tenant is `NotFound`.
    """

    def __init__(self, tenants: TenantRepository, directory: TenantDirectory) -> None:
        self._tenants = tenants
        self._directory = directory

    async def execute(self, tenant_id: str, status: TenantStatus) -> Tenant:
        tenant = await self._tenants.set_status(tenant_id, status)
        if tenant is None:
            raise NotFound("Tenant not found.")
        self._directory.forget(tenant)
        return tenant


class ListTenants:
    """One page of tenants, platform-wide, with the total count."""

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self, *, page: int = 1, page_size: int = 20) -> tuple[list[Tenant], int]:
        return await self._tenants.list_page(skip=(page - 1) * page_size, limit=page_size)


class EnsureDefaultTenant:
    """Get or create the one tenant used by `MULTI_TENANCY_STRATEGY=none` (idempotent)."""

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self, name: str, subdomain: str) -> Tenant:
        subdomain = normalize_subdomain(subdomain, allow_reserved=True)
        existing = await self._tenants.get_by_subdomain(subdomain)
        if existing is not None:
            return existing
        now = utcnow()
        tenant = Tenant(name=name, subdomain=subdomain, created_at=now, updated_at=now)
        try:
            return await self._tenants.add(tenant)
        except Conflict:
            # Another process created it first: read the winner.
            winner = await self._tenants.get_by_subdomain(subdomain)
            if winner is None:
                raise
            return winner


class GetCurrentTenant:
    """The tenant the current request runs for, read fresh from the store."""

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self) -> Tenant:
        tenant = await self._tenants.get(current_tenant())
        if tenant is None:
            raise NotFound("Tenant not found.")
        return tenant
