"""The tenant the current request runs for."""

from __future__ import annotations

from api.domain.errors import NotFound
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import Tenant, TenantRepository


class GetCurrentTenant:
    """The tenant the current request runs for, read fresh from the store.

    Rules: a tenant must be set (`TenantRequired`); one gone meanwhile is `NotFound`.
    """

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(self) -> Tenant:
        tenant = await self._tenants.get(current_tenant())
        if tenant is None:
            raise NotFound("Tenant not found.")
        return tenant
