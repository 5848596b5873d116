"""The tenant the request runs for (public: web apps show its name before sign-in)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from api.domain.tenants.tenant import Tenant, TenantStatus
from api.interfaces.http.deps import Inject
from api.usecases.tenants.get_current_tenant import GetCurrentTenant

router = APIRouter(tags=["tenancy"])


class CurrentTenantOut(BaseModel):
    id: str
    name: str
    subdomain: str
    status: TenantStatus
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> CurrentTenantOut:
        assert tenant.id is not None  # noqa: S101 - stored tenants always have an id
        return cls(
            id=tenant.id,
            name=tenant.name,
            subdomain=tenant.subdomain,
            status=tenant.status,
            created_at=tenant.created_at,
        )


@router.get(
    "/tenant",
    summary="The current tenant",
    description=(
        "The tenant named by the request (`X-Tenant-ID` header, subdomain, or the default "
        "tenant, by `MULTI_TENANCY_STRATEGY`). 400 `tenant_required` when none is named."
    ),
)
async def current_tenant(
    get_tenant: Annotated[GetCurrentTenant, Inject(GetCurrentTenant)],
) -> CurrentTenantOut:
    return CurrentTenantOut.of(await get_tenant.execute())
