"""Roles limited to departments: who is limited, what their token and `/auth/me` say, and
that memberships apply at once while a role becoming limited ends its holders' sessions."""

from __future__ import annotations

from api.common.clock import utcnow
from api.domain.departments import Department
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.crm.departments import BeanieDepartmentRepository
from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import login, onboard, owner_headers
from tests.support.people import MEMBER_PASSWORD, ROLES, add_user, bearer, role_id

ME = "/api/v1/auth/me"


async def limited_role(client: AppClient, owner: dict[str, str], name: str) -> str:
    response = await client.post(
        ROLES,
        json={"name": name, "permissions": ["crm:read"], "departments_only": True},
        headers=owner,
    )
    assert response.status_code == 201, response.text
    assert response.json()["departments_only"] is True
    return str(response.json()["id"])


async def add_department(tenant_id: str, name: str, member_ids: list[str]) -> str:
    now = utcnow()
    with tenant_context(TenantId(tenant_id)):
        stored = await BeanieDepartmentRepository().add(
            Department(name=name, member_ids=member_ids, created_at=now, updated_at=now)
        )
    return stored.id or ""


async def sign_in(client: AppClient, email: str, tenant_id: str) -> dict[str, str]:
    return bearer(tenant_id, await login(client, email, MEMBER_PASSWORD, tenant_id))


async def me(client: AppClient, headers: dict[str, str]) -> dict[str, object]:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_limited_user_sees_their_memberships_at_once(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tenant_id = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    sales_role = await limited_role(client, owner, "sales agent")
    user = await add_user(client, owner, "sam@acme.example.com", role_ids=[sales_role])
    headers = bearer(
        tenant_id, await login(client, "sam@acme.example.com", MEMBER_PASSWORD, tenant_id)
    )
    assert (await me(client, headers))["departments"] == []
    sales = await add_department(tenant_id, "Sales", [user["id"]])
    await add_department(tenant_id, "Support", [])
    assert (await me(client, headers))["departments"] == [sales]  # same token, no re-login
    assert (await me(client, owner))["departments"] is None


async def test_one_unlimited_role_lifts_the_limit(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tenant_id = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    sales_role = await limited_role(client, owner, "sales agent")
    member = await role_id(client, owner, "member")
    await add_user(client, owner, "kim@acme.example.com", role_ids=[sales_role, member])
    headers = bearer(
        tenant_id, await login(client, "kim@acme.example.com", MEMBER_PASSWORD, tenant_id)
    )
    assert (await me(client, headers))["departments"] is None


async def test_a_role_becoming_limited_ends_its_holders_sessions(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tenant_id = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    created = await client.post(
        ROLES, json={"name": "support", "permissions": ["crm:read"]}, headers=owner
    )
    assert created.status_code == 201 and created.json()["departments_only"] is False
    support = created.json()["id"]
    await add_user(client, owner, "lee@acme.example.com", role_ids=[support])
    headers = bearer(
        tenant_id, await login(client, "lee@acme.example.com", MEMBER_PASSWORD, tenant_id)
    )
    assert (await me(client, headers))["departments"] is None
    url = f"{ROLES}/{support}"
    changed = await client.put(url, json={"departments_only": True}, headers=owner)
    assert changed.status_code == 200 and changed.json()["departments_only"] is True
    assert_problem(await client.get(ME, headers=headers), 401, "unauthorized")
    again = bearer(
        tenant_id, await login(client, "lee@acme.example.com", MEMBER_PASSWORD, tenant_id)
    )
    assert (await me(client, again))["departments"] == []
    lifted = await client.put(url, json={"departments_only": False}, headers=owner)
    assert lifted.status_code == 200
    fresh = bearer(
        tenant_id, await login(client, "lee@acme.example.com", MEMBER_PASSWORD, tenant_id)
    )
    assert (await me(client, fresh))["departments"] is None
    assert_problem(
        await client.put(
            f"{ROLES}/{support}", json={"departments_only": "sometimes"}, headers=owner
        ),
        422,
        "invalid_input",
    )
