"""The one tenant of `MULTI_TENANCY_STRATEGY=none`."""

from __future__ import annotations

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.tenants.tenant import Tenant, TenantRepository, normalize_subdomain


class EnsureDefaultTenant:
    """Get or create the one tenant used by `MULTI_TENANCY_STRATEGY=none` (idempotent).

    Rules: its subdomain may be a reserved one (it is never routed by subdomain); two
    processes starting at once end up with the same tenant (the loser reads the winner).
    """

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
