"""Listing and finding tenants, platform-wide."""

from __future__ import annotations

from pydantic import BaseModel

from api.domain.permissions import Permission
from api.domain.tenants.tenant import Tenant, TenantRepository, TenantStatus
from api.usecases.tenants.rules import PlatformCaller, authorize

SEARCH_LIMIT = 20  # what a quick lookup by name (`GET /tenants/search`) shows at most


class TenantPage(BaseModel):
    items: list[Tenant]
    total: int


class ListTenants:
    """One page of tenants and how many match in all (`tenants:read`, platform plane).

    Serves the admin list (`GET /tenants`), the quick lookup by name (`GET
    /tenants/search`: the first `SEARCH_LIMIT`) and the console's `tenants list`.

    Rules: `query` matches the start of the name or the subdomain, case-insensitively, its
    characters literal (None: every tenant); `status` keeps one status; ordered by
    subdomain; pages count from 1 (a lower page is the first).
    """

    def __init__(self, tenants: TenantRepository) -> None:
        self._tenants = tenants

    async def execute(
        self,
        caller: PlatformCaller,
        *,
        query: str | None = None,
        status: TenantStatus | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> TenantPage:
        authorize(caller, Permission.TENANTS_READ)
        items, total = await self._tenants.search(
            prefix=query, status=status, skip=(max(page, 1) - 1) * page_size, limit=page_size
        )
        return TenantPage(items=items, total=total)
