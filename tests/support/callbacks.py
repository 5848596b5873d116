"""Helpers for callback request tests: departments and profiles arranged through the
container (in the tenant's context), and the public form's posts."""

from __future__ import annotations

from typing import Any

import punq

from api.common.clock import utcnow
from api.domain.departments import Department, DepartmentRepository
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.profile import TenantProfile, TenantProfileRepository
from tests.support.app import AppClient

PUBLIC = "/api/v1/public/callback-requests"
STAFF = "/api/v1/callback-requests"


async def add_department(
    container: punq.Container, tenant_id: str, name: str, *member_ids: str
) -> str:
    now = utcnow()
    with tenant_context(TenantId(tenant_id)):
        stored = await container.resolve(DepartmentRepository).add(
            Department(name=name, member_ids=list(member_ids), created_at=now, updated_at=now)
        )
    return stored.id or ""


async def set_default_country(container: punq.Container, tenant_id: str, country: str) -> None:
    with tenant_context(TenantId(tenant_id)):
        await container.resolve(TenantProfileRepository).save(
            TenantProfile(default_country=country)
        )


def form(**fields: Any) -> dict[str, Any]:
    return {"name": "Jane Doe", "phone": "+4915112345678", **fields}


async def submit(client: AppClient, tenant_id: str, **fields: Any) -> str:
    """Post the form for the tenant; the new request's id."""
    response = await client.post(PUBLIC, json=form(**fields), headers={"X-Tenant-ID": tenant_id})
    assert response.status_code == 202, response.text
    request_id: str = response.json()["id"]
    return request_id
