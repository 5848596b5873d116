"""`/api/v1/roles` and `/api/v1/permissions` (the grant rule is in `test_escalation.py`)."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import (
    ROLES,
    USERS,
    audit_entries,
    create_role,
    role_id,
    signed_in,
)

PERMISSIONS = "/api/v1/permissions"
ME = "/api/v1/auth/me"
MALFORMED = "not-an-object-id"
UNKNOWN = "0123456789abcdef01234567"


async def test_the_permission_catalog_lists_tenant_permissions(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    response = await client.get(PERMISSIONS, headers=member)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    names = [p["name"] for p in items]
    assert "users:read" in names and "audit:read" in names and "ai:use" in names
    assert not any(n.startswith("tenants:") for n in names)
    assert all(set(p) == {"name", "description"} and p["description"] for p in items)
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.get(PERMISSIONS, headers=tenant), 401, "unauthorized")


async def test_list_and_read_roles(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    listed = (await client.get(ROLES, headers=owner)).json()
    assert listed["total"] == 4 and listed["page"] == 1 and listed["page_size"] == 20
    assert [r["name"] for r in listed["items"]] == ["admin", "agent", "member", "owner"]
    member_role = next(r for r in listed["items"] if r["name"] == "member")
    assert member_role["system"] is True and member_role["inherits"] == []
    assert member_role["permissions"] == ["ai:use", "files:read", "files:write"]
    paged = (await client.get(ROLES, params={"page": 2, "page_size": 2}, headers=owner)).json()
    assert [r["name"] for r in paged["items"]] == ["member", "owner"] and paged["total"] == 4
    got = await client.get(f"{ROLES}/{member_role['id']}", headers=owner)
    assert got.status_code == 200 and got.json() == member_role
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    for url in (ROLES, f"{ROLES}/{member_role['id']}"):
        assert_problem(await client.get(url, headers=tenant), 401, "unauthorized")
        assert_problem(await client.get(url, headers=member), 403, "forbidden")
    for missing in (MALFORMED, UNKNOWN, await role_id(client, beta_owner, "member")):
        assert_problem(await client.get(f"{ROLES}/{missing}", headers=owner), 404, "not_found")
    for params in ({"page": 0}, {"page_size": 101}, {"page": "x"}):
        assert_problem(await client.get(ROLES, params=params, headers=owner), 422, "invalid_input")


async def test_create_role(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    member_role = await role_id(client, owner, "member")
    body = {
        "name": " Support ",
        "description": "Helps customers",
        "permissions": ["users:read", "audit:read", "users:read"],
        "inherits": [member_role],
    }
    created = await client.post(ROLES, json=body, headers=owner)
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["name"] == "Support" and role["system"] is False
    assert role["permissions"] == ["audit:read", "users:read"]
    assert role["inherits"] == [member_role]
    assert {"id", "name", "description", "permissions", "inherits", "system"} <= set(role)
    [entry] = await audit_entries(client, owner, action="role.created")
    assert entry["resource_id"] == role["id"] and entry["changes"]["name"] == "Support"
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    other = {"name": "Other", "permissions": ["users:read"]}
    assert_problem(await client.post(ROLES, json=other, headers=tenant), 401, "unauthorized")
    assert_problem(await client.post(ROLES, json=other, headers=member), 403, "forbidden")
    for taken in ("support", "ADMIN"):
        duplicate = await client.post(ROLES, json={**other, "name": taken}, headers=owner)
        assert_problem(duplicate, 409, "conflict")


async def test_create_role_bad_input(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    unknown = await client.post(
        ROLES, json={"name": "X", "permissions": ["users:read", "users:fly"]}, headers=owner
    )
    body = assert_problem(unknown, 422, "invalid_input")
    assert "users:fly" in body["detail"] and "users:fly" in str(body["errors"])
    platform = await client.post(
        ROLES, json={"name": "X", "permissions": ["tenants:impersonate"]}, headers=owner
    )
    assert "tenants:impersonate" in assert_problem(platform, 422, "invalid_input")["detail"]
    beta_member = await role_id(client, beta_owner, "member")
    for inherits in ([UNKNOWN], [MALFORMED], [beta_member]):
        response = await client.post(ROLES, json={"name": "X", "inherits": inherits}, headers=owner)
        assert_problem(response, 422, "invalid_input")
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "X", "system": True},
        {"name": "X", "permissions": "users:read"},
    ]
    for bad in bad_bodies:
        assert_problem(await client.post(ROLES, json=bad, headers=owner), 422, "invalid_input")
    assert (await client.get(ROLES, headers=owner)).json()["total"] == 4


async def test_update_role(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    role = await create_role(client, owner, "support", ["users:read"])
    url = f"{ROLES}/{role['id']}"
    updated = await client.put(
        url,
        json={"description": "Front line", "permissions": ["users:read", "roles:read"]},
        headers=owner,
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "support" and body["description"] == "Front line"
    assert body["permissions"] == ["roles:read", "users:read"]
    [entry] = await audit_entries(client, owner, action="role.updated")
    assert entry["changes"] == {
        "description": {"from": "", "to": "Front line"},
        "permissions": {"from": ["users:read"], "to": ["roles:read", "users:read"]},
    }
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    change = {"description": "x"}
    assert_problem(await client.put(url, json=change, headers=tenant), 401, "unauthorized")
    assert_problem(await client.put(url, json=change, headers=member), 403, "forbidden")
    assert_problem(await client.put(url, json=change, headers=beta_owner), 404, "not_found")
    for missing in (MALFORMED, UNKNOWN):
        response = await client.put(f"{ROLES}/{missing}", json=change, headers=owner)
        assert_problem(response, 404, "not_found")
    for bad in (
        {"permissions": ["nope:nope"]},
        {"permissions": ["tenants:read"]},
        {"inherits": [UNKNOWN]},
        {"name": ""},
        {"system": True},
    ):
        assert_problem(await client.put(url, json=bad, headers=owner), 422, "invalid_input")
    await create_role(client, owner, "billing", [])
    taken = await client.put(url, json={"name": "Billing"}, headers=owner)
    assert_problem(taken, 409, "conflict")
    for system in ("owner", "admin", "member", "agent"):
        system_url = f"{ROLES}/{await role_id(client, owner, system)}"
        assert_problem(await client.put(system_url, json=change, headers=owner), 409, "conflict")


async def test_role_inheritance_has_no_cycles(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    base = await create_role(client, owner, "base", ["users:read"])
    middle = await create_role(client, owner, "middle", [], [base["id"]])
    top = await create_role(client, owner, "top", [], [middle["id"]])
    for role, inherits in ((base, [top["id"]]), (base, [base["id"]]), (middle, [top["id"]])):
        response = await client.put(
            f"{ROLES}/{role['id']}", json={"inherits": inherits}, headers=owner
        )
        assert_problem(response, 409, "conflict")
    assert (await client.get(f"{ROLES}/{base['id']}", headers=owner)).json()["inherits"] == []


async def test_delete_role(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    support = await create_role(client, owner, "support", ["users:read"])
    holder, holder_headers = await signed_in(
        client, acme, owner, "sam@acme.example.com", roles=["member", "support"]
    )
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    url = f"{ROLES}/{support['id']}"
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.delete(url, headers=tenant), 401, "unauthorized")
    assert_problem(await client.delete(url, headers=member), 403, "forbidden")
    assert_problem(await client.delete(url, headers=beta_owner), 404, "not_found")
    assert_problem(await client.delete(f"{ROLES}/{MALFORMED}", headers=owner), 404, "not_found")
    child = await create_role(client, owner, "child", [], [support["id"]])
    inherited = assert_problem(await client.delete(url, headers=owner), 409, "conflict")
    assert "child" in inherited["detail"]
    assert (await client.delete(f"{ROLES}/{child['id']}", headers=owner)).status_code == 204
    assert (await client.delete(url, headers=owner)).status_code == 204
    assert_problem(await client.get(url, headers=owner), 404, "not_found")
    # The holder lost the role, and the old token with it.
    user = (await client.get(f"{USERS}/{holder['id']}", headers=owner)).json()
    assert [r["name"] for r in user["roles"]] == ["member"]
    assert_problem(await client.get(ME, headers=holder_headers), 401, "unauthorized")
    for system in ("owner", "admin", "member", "agent"):
        system_url = f"{ROLES}/{await role_id(client, owner, system)}"
        assert_problem(await client.delete(system_url, headers=owner), 409, "conflict")
    entries = await audit_entries(client, owner, action="role.deleted")
    assert {e["changes"]["name"] for e in entries} == {"support", "child"}


async def test_narrowing_a_role_ends_its_holders_sessions(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    base = await create_role(client, owner, "base", ["users:read", "roles:read"])
    await create_role(client, owner, "derived", [], [base["id"]])
    _, derived_user = await signed_in(client, acme, owner, "d@acme.example.com", roles=["derived"])
    _, other = await signed_in(client, acme, owner, "o@acme.example.com")
    widened = await client.put(
        f"{ROLES}/{base['id']}",
        json={"permissions": ["users:read", "roles:read", "ai:use"]},
        headers=owner,
    )
    assert widened.status_code == 200
    assert (await client.get(ME, headers=derived_user)).status_code == 200  # nothing lost
    narrowed = await client.put(
        f"{ROLES}/{base['id']}", json={"permissions": ["ai:use"]}, headers=owner
    )
    assert narrowed.status_code == 200
    assert_problem(await client.get(ME, headers=derived_user), 401, "unauthorized")
    assert (await client.get(ME, headers=other)).status_code == 200
