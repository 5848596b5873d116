"""Helpers for user/role tests: roles, users with passwords, and their signed-in headers.

Everything goes through the HTTP API as the tenant's owner would do it.
"""

from __future__ import annotations

from typing import Any, cast

import httpx

from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient
from tests.support.onboarding import login, onboard, owner_headers

USERS = "/api/v1/users"
ROLES = "/api/v1/roles"
AUDIT = "/api/v1/audit-logs"
MEMBER_PASSWORD = "member-password-1"


TwoTenants = tuple[CreatedTenant, dict[str, str], CreatedTenant, dict[str, str]]


async def two_tenants(client: AppClient) -> TwoTenants:
    """(acme, its owner's headers, beta, its owner's headers)."""
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    return acme, await owner_headers(client, acme), beta, await owner_headers(client, beta)


def bearer(tenant_id: str, tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tenant_id}


async def role_id(http: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    """The id of the role named `name` (system roles included)."""
    page = await http.get(ROLES, params={"page_size": 100}, headers=headers)
    assert page.status_code == 200, page.text
    return next(str(r["id"]) for r in page.json()["items"] if r["name"] == name)


async def create_role(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    permissions: list[str],
    inherits: list[str] | None = None,
) -> dict[str, Any]:
    response = await http.post(
        ROLES,
        json={"name": name, "permissions": permissions, "inherits": inherits or []},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def add_user(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    email: str,
    *,
    role_ids: list[str] | None = None,
    full_name: str = "Max Member",
    password: str | None = MEMBER_PASSWORD,
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email, "full_name": full_name}
    if password is not None:
        body["password"] = password
    if role_ids is not None:
        body["role_ids"] = role_ids
    response = await http.post(USERS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


async def signed_in(
    http: httpx.AsyncClient,
    onboarded: CreatedTenant,
    owner: dict[str, str],
    email: str,
    *,
    roles: list[str] | None = None,
    full_name: str = "Max Member",
) -> tuple[dict[str, Any], dict[str, str]]:
    """(user, headers): a user created by the owner with the roles named (default: member),
    signed in with `MEMBER_PASSWORD`."""
    tenant_id = onboarded.tenant.id or ""
    ids = [await role_id(http, owner, name) for name in roles] if roles is not None else None
    user = await add_user(http, owner, email, role_ids=ids, full_name=full_name)
    tokens = await login(http, email, MEMBER_PASSWORD, tenant_id)
    return user, bearer(tenant_id, tokens)


async def audit_entries(
    http: httpx.AsyncClient, headers: dict[str, str], **filters: Any
) -> list[dict[str, Any]]:
    response = await http.get(AUDIT, params={"page_size": 100, **filters}, headers=headers)
    assert response.status_code == 200, response.text
    return cast(list[dict[str, Any]], response.json()["items"])
