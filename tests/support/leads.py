"""Lead test helpers: a contact to point leads at, creating and changing leads over HTTP."""

from __future__ import annotations

from typing import Any, cast

from api.common.clock import utcnow
from api.domain.departments import Department
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.departments import BeanieDepartmentRepository
from tests.support.app import AppClient
from tests.support.onboarding import login
from tests.support.people import MEMBER_PASSWORD, ROLES, add_user, bearer

LEADS = "/api/v1/leads"
CONTACTS = "/api/v1/contacts"


async def new_contact(
    client: AppClient, headers: dict[str, str], phone: str = "+14155550123", name: str = "Ann"
) -> str:
    response = await client.post(CONTACTS, json={"name": name, "phone": phone}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_lead(client: AppClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(LEADS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def change(
    client: AppClient, headers: dict[str, str], lead_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.patch(f"{LEADS}/{lead_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def add_department(tenant_id: str, name: str, member_ids: list[str]) -> str:
    """A department of the tenant, stored directly (its routes are another feature's)."""
    now = utcnow()
    with tenant_context(TenantId(tenant_id)):
        stored = await BeanieDepartmentRepository().add(
            Department(name=name, member_ids=member_ids, created_at=now, updated_at=now)
        )
    return stored.id or ""


async def limited_user(
    client: AppClient,
    owner: dict[str, str],
    tenant_id: str,
    email: str,
    permissions: tuple[str, ...] = ("crm:read", "crm:write"),
) -> tuple[str, dict[str, str]]:
    """(user id, headers) of a user whose one role (`permissions`, crm:read and crm:write
    by default) is limited to their departments."""
    role = await client.post(ROLES, headers=owner, json={
        "name": f"sales {email}", "permissions": list(permissions), "departments_only": True,
    })  # fmt: skip
    assert role.status_code == 201, role.text
    user = await add_user(client, owner, email, role_ids=[role.json()["id"]])
    tokens = await login(client, email, MEMBER_PASSWORD, tenant_id)
    return str(user["id"]), bearer(tenant_id, tokens)
