"""Reading one tenant in the platform plane."""

from __future__ import annotations

from api.domain.permissions import Permission
from api.domain.tenants.tenant import Tenant, TenantRepository
from api.usecases.tenants.rules import PlatformCaller, authorize, existing_tenant


class GetTenant:
    """One tenant by id (`tenants:read`); `NotFound` for an unknown or malformed id."""

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self, caller: PlatformCaller, tenant_id: str) -> Tenant:
        authorize(caller, Permission.TENANTS_READ)
        return await existing_tenant(self._tenants, tenant_id)
