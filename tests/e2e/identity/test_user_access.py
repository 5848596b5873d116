"""`DELETE /api/v1/users/{id}` and `/api/v1/users/{id}/roles|activate|deactivate|unlock`:
changes to someone's access apply at once, nobody changes their own, and the tenant keeps
an active owner."""

from __future__ import annotations

from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import OWNER_PASSWORD, login, onboard, owner_headers
from tests.support.people import (
    MEMBER_PASSWORD,
    USERS,
    add_user,
    audit_entries,
    bearer,
    role_id,
    signed_in,
    two_tenants,
)

ME = "/api/v1/auth/me"
LOGIN = "/api/v1/auth/login"
MALFORMED = "not-an-object-id"


# -- DELETE /users/{id} ----------------------------------------------------------------------


async def test_delete_user_ends_their_sessions(client: AppClient) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    url = f"{USERS}/{max_user['id']}"
    assert_problem(await client.delete(url, headers=member), 403, "forbidden")
    assert_problem(await client.delete(url, headers=beta_owner), 404, "not_found")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.delete(url, headers=tenant), 401, "unauthorized")
    deleted = await client.delete(url, headers=owner)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(await client.get("/api/v1/auth/me", headers=member), 401, "unauthorized")
    assert_problem(await client.get(url, headers=owner), 404, "not_found")
    assert_problem(await client.delete(url, headers=owner), 404, "not_found")
    assert_problem(await client.delete(f"{USERS}/{MALFORMED}", headers=owner), 404, "not_found")
    [entry] = await audit_entries(client, owner, action="user.deleted")
    assert entry["resource_id"] == max_user["id"]
    assert entry["changes"]["email"] == "max@acme.example.com"


async def test_nobody_deletes_themselves_or_the_last_owner(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    owner_url = f"{USERS}/{acme.owner.id}"
    assert_problem(await client.delete(owner_url, headers=owner), 409, "conflict")
    _, admin = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["admin"])
    last = assert_problem(await client.delete(owner_url, headers=admin), 409, "conflict")
    assert "owner" in last["detail"]
    # With a second active owner, the first may go.
    owner_role = await role_id(client, owner, "owner")
    await add_user(client, owner, "co@acme.example.com", role_ids=[owner_role])
    assert (await client.delete(owner_url, headers=admin)).status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=owner), 401, "unauthorized")


async def test_an_inactive_owner_does_not_count_as_the_remaining_owner(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    owner_role = await role_id(client, owner, "owner")
    second = await add_user(client, owner, "co@acme.example.com", role_ids=[owner_role])
    assert (
        await client.post(f"{USERS}/{second['id']}/deactivate", headers=owner)
    ).status_code == 200
    _, admin = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["admin"])
    response = await client.delete(f"{USERS}/{acme.owner.id}", headers=admin)
    assert_problem(response, 409, "conflict")
    # The owner can still sign in: nothing was deleted.
    await login(client, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)


# -- PUT /users/{id}/roles -------------------------------------------------------------------


async def test_changing_roles_applies_at_once(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    admin_role, member_role = (
        await role_id(client, owner, "admin"),
        await role_id(client, owner, "member"),
    )
    url = f"{USERS}/{max_user['id']}/roles"
    changed = await client.put(url, json={"role_ids": [admin_role, admin_role]}, headers=owner)
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == [{"id": admin_role, "name": "admin"}]
    # The old token (member permissions) stops working right away.
    assert_problem(await client.get(ME, headers=member), 401, "unauthorized")
    tokens = await login(client, "max@acme.example.com", MEMBER_PASSWORD, acme.tenant.id)
    me = (await client.get(ME, headers=bearer(acme.tenant.id or "", tokens))).json()
    assert "users:manage_roles" in me["permissions"]
    [entry] = await audit_entries(client, owner, action="user.roles_changed")
    assert entry["resource_id"] == max_user["id"] and entry["actor_id"] == acme.owner.id
    assert entry["changes"] == {"role_ids": {"from": [member_role], "to": [admin_role]}}


async def test_set_roles_auth_isolation_and_bad_input(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    other, _ = await signed_in(client, acme, owner, "other@acme.example.com")
    url = f"{USERS}/{other['id']}/roles"
    body = {"role_ids": [await role_id(client, owner, "member")]}
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.put(url, json=body, headers=tenant), 401, "unauthorized")
    assert_problem(await client.put(url, json=body, headers=member), 403, "forbidden")
    assert_problem(await client.put(url, json=body, headers=beta_owner), 404, "not_found")
    missing = f"{USERS}/{MALFORMED}/roles"
    assert_problem(await client.put(missing, json=body, headers=owner), 404, "not_found")
    beta_member = await role_id(client, beta_owner, "member")
    for bad in (
        {},
        {"role_ids": "member"},
        {"role_ids": [MALFORMED]},
        {"role_ids": [beta_member]},
        {"role_ids": [], "extra": 1},
    ):
        assert_problem(await client.put(url, json=bad, headers=owner), 422, "invalid_input")
    # Nobody changes their own roles, not even the owner.
    own = await client.put(f"{USERS}/{acme.owner.id}/roles", json={"role_ids": []}, headers=owner)
    assert_problem(own, 403, "forbidden")
    assert max_user["id"] != other["id"]


async def test_the_last_active_owner_keeps_the_owner_role(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, admin = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["admin"])
    admin_role, owner_role = (
        await role_id(client, owner, "admin"),
        await role_id(client, owner, "owner"),
    )
    url = f"{USERS}/{acme.owner.id}/roles"
    demote = await client.put(url, json={"role_ids": [admin_role]}, headers=admin)
    assert_problem(demote, 409, "conflict")
    keep = await client.put(url, json={"role_ids": [owner_role, admin_role]}, headers=admin)
    assert keep.status_code == 200  # still an owner: allowed
    # The owner's old token was ended by the change above: it must sign in again.
    assert_problem(await client.get(ME, headers=owner), 401, "unauthorized")
    owner = await owner_headers(client, acme)
    await add_user(client, owner, "co@acme.example.com", role_ids=[owner_role])
    assert (
        await client.put(url, json={"role_ids": [admin_role]}, headers=admin)
    ).status_code == 200


# -- POST /users/{id}/activate, /deactivate --------------------------------------------------


async def test_deactivation_ends_sessions_at_once_and_activation_restores(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    refresh = (await login(client, "max@acme.example.com", MEMBER_PASSWORD, acme.tenant.id))[
        "refresh_token"
    ]
    url = f"{USERS}/{max_user['id']}"
    off = await client.post(f"{url}/deactivate", headers=owner)
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert_problem(await client.get(ME, headers=member), 401, "unauthorized")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    spent = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": refresh}, headers=tenant
    )
    assert_problem(spent, 401, "unauthorized")
    sign_in = {"email": "max@acme.example.com", "password": MEMBER_PASSWORD}
    assert_problem(await client.post(LOGIN, json=sign_in, headers=tenant), 401, "unauthorized")
    again = await client.post(f"{url}/deactivate", headers=owner)
    assert again.status_code == 200 and again.json()["is_active"] is False
    on = await client.post(f"{url}/activate", headers=owner)
    assert on.status_code == 200 and on.json()["is_active"] is True
    await login(client, "max@acme.example.com", MEMBER_PASSWORD, acme.tenant.id)
    actions = [e["action"] for e in await audit_entries(client, owner, resource_type="user")]
    assert actions.count("user.deactivated") == 1 and actions.count("user.activated") == 1


async def test_activation_auth_isolation_and_self(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    for verb in ("activate", "deactivate"):
        url = f"{USERS}/{max_user['id']}/{verb}"
        assert_problem(await client.post(url, headers=tenant), 401, "unauthorized")
        assert_problem(await client.post(url, headers=member), 403, "forbidden")
        assert_problem(await client.post(url, headers=beta_owner), 404, "not_found")
        bad = f"{USERS}/{MALFORMED}/{verb}"
        assert_problem(await client.post(bad, headers=owner), 404, "not_found")
        mine = f"{USERS}/{acme.owner.id}/{verb}"
        assert_problem(await client.post(mine, headers=owner), 403, "forbidden")
    # The last active owner cannot be deactivated, even by an admin.
    _, admin = await signed_in(client, acme, owner, "ada@acme.example.com", roles=["admin"])
    last = await client.post(f"{USERS}/{acme.owner.id}/deactivate", headers=admin)
    assert_problem(last, 409, "conflict")
    await login(client, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)


# -- POST /users/{id}/unlock -----------------------------------------------------------------


async def test_unlock_clears_a_sign_in_lockout(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    wrong = {"email": "max@acme.example.com", "password": "wrong-password"}
    for _ in range(5):
        assert (await client.post(LOGIN, json=wrong, headers=tenant)).status_code == 401
    right = {"email": "max@acme.example.com", "password": MEMBER_PASSWORD}
    assert_problem(await client.post(LOGIN, json=right, headers=tenant), 429, "rate_limited")
    url = f"{USERS}/{max_user['id']}/unlock"
    assert_problem(await client.post(url, headers=tenant), 401, "unauthorized")
    assert_problem(await client.post(url, headers=member), 403, "forbidden")
    assert_problem(await client.post(url, headers=beta_owner), 404, "not_found")
    bad = f"{USERS}/{MALFORMED}/unlock"
    assert_problem(await client.post(bad, headers=owner), 404, "not_found")
    assert_problem(await client.post(LOGIN, json=right, headers=tenant), 429, "rate_limited")
    unlocked = await client.post(url, headers=owner)
    assert unlocked.status_code == 204
    assert (await client.post(LOGIN, json=right, headers=tenant)).status_code == 200
    [entry] = await audit_entries(client, owner, action="user.unlocked")
    assert entry["resource_id"] == max_user["id"]
