"""Helpers for tests that need tenants, users and signed-in clients."""

from __future__ import annotations

from typing import Any, cast

import httpx

from api.usecases.tenants.create_tenant import CreatedTenant, CreateTenant
from api.usecases.tenants.rules import OPERATOR
from tests.support.app import AppClient
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD

OWNER_PASSWORD = "owner-password-1"


async def onboard(http: AppClient, subdomain: str, **owner: Any) -> CreatedTenant:
    """A tenant with its system roles and an owner who can sign in (through the use case)."""
    use_case = http.container.resolve(CreateTenant)
    onboarded: CreatedTenant = await use_case.execute(
        OPERATOR,
        name=subdomain.title(),
        subdomain=subdomain,
        owner_email=owner.get("email", f"owner@{subdomain}.example.com"),
        owner_full_name=owner.get("full_name", "Olivia Owner"),
        owner_password=owner.get("password", OWNER_PASSWORD),
    )
    return onboarded


async def login(
    http: httpx.AsyncClient, email: str, password: str, tenant_id: str | None = None
) -> dict[str, Any]:
    headers = {"X-Tenant-ID": tenant_id} if tenant_id else {}
    response = await http.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


async def owner_headers(http: httpx.AsyncClient, onboarded: CreatedTenant) -> dict[str, str]:
    tenant_id = onboarded.tenant.id or ""
    tokens = await login(http, onboarded.owner.email, OWNER_PASSWORD, tenant_id)
    return {"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tenant_id}


async def admin_headers(http: httpx.AsyncClient) -> dict[str, str]:
    tokens = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
    return {"Authorization": f"Bearer {tokens['access_token']}"}
