"""`/api/v1/users`: list, create/invite, read, edit, delete, for each its auth, tenant
isolation and bad input."""

from __future__ import annotations

from typing import Any

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import login, onboard, owner_headers
from tests.support.people import (
    MEMBER_PASSWORD,
    USERS,
    add_user,
    audit_entries,
    bearer,
    create_role,
    role_id,
    signed_in,
    two_tenants,
)

MALFORMED = "not-an-object-id"
UNKNOWN = "0123456789abcdef01234567"
USER_FIELDS = {
    "id",
    "email",
    "phone",
    "full_name",
    "is_active",
    "email_verified",
    "mfa_enabled",
    "tenant_id",
    "roles",
    "avatar_url",
    "created_at",
    "updated_at",
}


# -- GET /users ------------------------------------------------------------------------------


async def test_list_users_searches_filters_and_pages(client: AppClient) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    await add_user(client, owner, "zoe.quinn@acme.example.com", full_name="Zoë Quinn")
    carl = await add_user(client, owner, "carl@acme.example.com", full_name="Carl Marx")
    admin = await role_id(client, owner, "admin")
    await add_user(
        client, owner, "ada@acme.example.com", full_name="Ada Lovelace", role_ids=[admin]
    )

    everyone = (await client.get(USERS, headers=owner)).json()
    assert everyone["total"] == 4 and everyone["page"] == 1 and everyone["page_size"] == 20
    assert set(everyone["items"][0]) == USER_FIELDS
    assert "password_hash" not in str(everyone)
    # Prefix search on any word of the name (accents ignored) or on the email.
    for q, expected in (("quinn", ["Zoë Quinn"]), ("zoe", ["Zoë Quinn"]), ("CARL@", ["Carl Marx"])):
        found = (await client.get(USERS, params={"q": q}, headers=owner)).json()
        assert [u["full_name"] for u in found["items"]] == expected, q
    assert (await client.get(USERS, params={"q": "arx"}, headers=owner)).json()["total"] == 0
    assert (await client.get(USERS, params={"q": ".*"}, headers=owner)).json()["total"] == 0
    by_role = (await client.get(USERS, params={"role_id": admin}, headers=owner)).json()
    assert [u["full_name"] for u in by_role["items"]] == ["Ada Lovelace"]
    assert by_role["items"][0]["roles"] == [{"id": admin, "name": "admin"}]
    await client.post(f"{USERS}/{carl['id']}/deactivate", headers=owner)
    inactive = (await client.get(USERS, params={"is_active": "false"}, headers=owner)).json()
    assert [u["id"] for u in inactive["items"]] == [carl["id"]]
    paged = (await client.get(USERS, params={"page": 2, "page_size": 3}, headers=owner)).json()
    assert paged["total"] == 4 and len(paged["items"]) == 1 and paged["page"] == 2
    # Another tenant sees only its own.
    beta_list = (await client.get(USERS, headers=beta_owner)).json()
    assert beta_list["total"] == 1 and beta_list["items"][0]["email"] == "owner@beta.example.com"
    assert beta_list["items"][0]["tenant_id"] != acme.tenant.id


async def test_list_users_auth_and_bad_input(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.get(USERS, headers=tenant), 401, "unauthorized")
    assert_problem(await client.get(USERS, headers=member), 403, "forbidden")
    for params in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"is_active": "maybe"}):
        assert_problem(await client.get(USERS, params=params, headers=owner), 422, "invalid_input")


# -- POST /users -----------------------------------------------------------------------------


async def test_create_user_with_a_password_makes_a_member_who_can_sign_in(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    created = await client.post(
        USERS,
        json={"email": " Max@Acme.example.com", "full_name": " Max ", "password": MEMBER_PASSWORD},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert set(user) == USER_FIELDS
    assert user["email"] == "max@acme.example.com" and user["full_name"] == "Max"
    assert user["tenant_id"] == acme.tenant.id and user["is_active"] is True
    assert [r["name"] for r in user["roles"]] == ["member"]
    tokens = await login(client, "max@acme.example.com", MEMBER_PASSWORD, acme.tenant.id)
    me = (await client.get("/api/v1/auth/me", headers=bearer(acme.tenant.id or "", tokens))).json()
    assert sorted(me["permissions"]) == ["ai:use", "files:read", "files:write"]
    duplicate = await client.post(
        USERS, json={"email": "MAX@acme.example.com", "full_name": "Other"}, headers=owner
    )
    assert_problem(duplicate, 409, "conflict")
    # The same email in another tenant is another account.
    beta = await onboard(client, "beta")
    beta_owner = await owner_headers(client, beta)
    await add_user(client, beta_owner, "max@acme.example.com")


async def test_create_user_without_a_password_invites_by_email(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    user = await add_user(client, owner, "invitee@acme.example.com", full_name="Ivy", password=None)
    database = mongo_client[db_name]
    emails = await database["outbound_emails"].find({"to": "invitee@acme.example.com"}).to_list()
    assert len(emails) == 1
    [email] = emails
    assert email["template"] == "invitation" and email["tenant_id"] == acme.tenant.id
    context = email["context"]
    assert context["inviter_name"] == "Olivia Owner" and context["user_name"] == "Ivy"
    assert context["expires_hours"] == 72
    assert "/accept-invitation?token=" in context["accept_url"]
    assert len(context["accept_url"].split("token=", 1)[1]) >= 32
    token = await database["one_time_tokens"].find_one({"user_id": user["id"]})
    assert token is not None and token["purpose"] == "invitation"
    # Without a password, nobody can sign in as the invitee.
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "invitee@acme.example.com", "password": "anything-at-all"},
        headers={"X-Tenant-ID": acme.tenant.id or ""},
    )
    assert_problem(response, 401, "unauthorized")
    actions = {e["action"] for e in await audit_entries(client, owner, resource_type="user")}
    assert {"user.created", "user.invited"} <= actions


async def test_create_user_auth_and_bad_input(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    body = {"email": "new@acme.example.com", "full_name": "New"}
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.post(USERS, json=body, headers=tenant), 401, "unauthorized")
    assert_problem(await client.post(USERS, json=body, headers=member), 403, "forbidden")
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"email": "not-an-email", "full_name": "X"},
        {"email": "a@acme.example.com", "full_name": "   "},
        {"email": "a@acme.example.com", "full_name": "X", "password": "short"},
        {"email": "a@acme.example.com", "full_name": "X", "is_active": False},
        {"email": "a@acme.example.com", "full_name": "X", "role_ids": [UNKNOWN]},
        {"email": "a@acme.example.com", "full_name": "X", "role_ids": "admin"},
    ]
    for bad in bad_bodies:
        response = await client.post(USERS, json=bad, headers=owner)
        assert_problem(response, 422, "invalid_input")
    unknown = await client.post(USERS, json={**body, "role_ids": [MALFORMED]}, headers=owner)
    assert MALFORMED in assert_problem(unknown, 422, "invalid_input")["detail"]
    # Another tenant's role is not a role here.
    beta = await onboard(client, "beta")
    beta_admin = await role_id(client, await owner_headers(client, beta), "admin")
    foreign = await client.post(USERS, json={**body, "role_ids": [beta_admin]}, headers=owner)
    assert_problem(foreign, 422, "invalid_input")
    assert (await client.get(USERS, headers=owner)).json()["total"] == 2  # owner and Max


async def test_assigning_roles_at_creation_needs_manage_roles_and_the_permissions(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    member_perms = ["ai:use", "files:read", "files:write"]
    await create_role(client, owner, "hr", ["users:read", "users:write", *member_perms])
    _, hr = await signed_in(client, acme, owner, "hr@acme.example.com", roles=["hr"])
    member_role = await role_id(client, owner, "member")
    body = {"email": "new@acme.example.com", "full_name": "New", "password": MEMBER_PASSWORD}
    refused = await client.post(USERS, json={**body, "role_ids": [member_role]}, headers=hr)
    assert "users:manage_roles" in assert_problem(refused, 403, "forbidden")["detail"]
    assert (await client.post(USERS, json=body, headers=hr)).status_code == 201
    # Without the member permissions, even the default role cannot be handed out.
    await create_role(client, owner, "clerk", ["users:write"])
    _, clerk = await signed_in(client, acme, owner, "clerk@acme.example.com", roles=["clerk"])
    other = {**body, "email": "other@acme.example.com"}
    assert (
        "ai:use"
        in assert_problem(await client.post(USERS, json=other, headers=clerk), 403, "forbidden")[
            "detail"
        ]
    )


# -- GET /users/{id} -------------------------------------------------------------------------


async def test_get_user(client: AppClient) -> None:
    acme, owner, beta, beta_owner = await two_tenants(client)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    url = f"{USERS}/{max_user['id']}"
    got = await client.get(url, headers=owner)
    assert got.status_code == 200 and got.json() == max_user
    assert (await client.get(url, headers=member)).json()["id"] == max_user["id"]  # themself
    owner_url = f"{USERS}/{acme.owner.id}"
    assert_problem(await client.get(owner_url, headers=member), 403, "forbidden")
    assert_problem(
        await client.get(url, headers={"X-Tenant-ID": acme.tenant.id or ""}), 401, "unauthorized"
    )
    assert_problem(await client.get(url, headers=beta_owner), 404, "not_found")
    for missing in (MALFORMED, UNKNOWN, str(beta.owner.id)):
        assert_problem(await client.get(f"{USERS}/{missing}", headers=owner), 404, "not_found")


# -- PUT /users/{id} -------------------------------------------------------------------------


async def test_users_edit_their_own_name_but_not_their_email(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    url = f"{USERS}/{max_user['id']}"
    renamed = await client.put(url, json={"full_name": "Maxine"}, headers=member)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["full_name"] == "Maxine"
    same_email = await client.put(url, json={"email": "max@acme.example.com"}, headers=member)
    assert same_email.status_code == 200  # unchanged: nothing to refuse
    own_email = await client.put(url, json={"email": "mine@acme.example.com"}, headers=member)
    assert_problem(own_email, 403, "forbidden")
    owner_self = await client.put(
        f"{USERS}/{acme.owner.id}", json={"email": "boss@acme.example.com"}, headers=owner
    )
    assert_problem(owner_self, 403, "forbidden")
    others = await client.put(f"{USERS}/{acme.owner.id}", json={"full_name": "X"}, headers=member)
    assert_problem(others, 403, "forbidden")
    extras: list[dict[str, Any]] = [
        {"is_active": False},
        {"role_ids": []},
        {"password": "new-password-1"},
    ]
    for extra in extras:
        assert_problem(await client.put(url, json=extra, headers=member), 422, "invalid_input")


async def test_an_admin_edits_a_users_email_which_is_then_unverified(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, owner, _, beta_owner = await two_tenants(client)
    max_user = await add_user(client, owner, "max@acme.example.com")
    await mongo_client[db_name]["users"].update_one(
        {"email": "max@acme.example.com"}, {"$set": {"email_verified": True}}
    )
    url = f"{USERS}/{max_user['id']}"
    response = await client.put(
        url, json={"email": "MAXIMUS@acme.example.com", "full_name": "Maximus"}, headers=owner
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "maximus@acme.example.com" and body["email_verified"] is False
    assert body["full_name"] == "Maximus"
    [entry] = await audit_entries(client, owner, action="user.updated")
    assert entry["resource_id"] == max_user["id"] and entry["actor_id"] == acme.owner.id
    assert entry["changes"] == {
        "email": {"from": "max@acme.example.com", "to": "maximus@acme.example.com"},
        "full_name": {"from": "Max Member", "to": "Maximus"},
        "email_verified": {"from": True, "to": False},
    }
    taken = await client.put(url, json={"email": acme.owner.email}, headers=owner)
    assert_problem(taken, 409, "conflict")
    assert_problem(await client.put(url, json={}, headers=owner), 422, "invalid_input")
    assert_problem(
        await client.put(url, json={"email": "nope"}, headers=owner), 422, "invalid_input"
    )
    assert_problem(
        await client.put(url, json={"full_name": "B"}, headers=beta_owner), 404, "not_found"
    )
    for missing in (MALFORMED, UNKNOWN):
        response = await client.put(f"{USERS}/{missing}", json={"full_name": "B"}, headers=owner)
        assert_problem(response, 404, "not_found")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(
        await client.put(url, json={"full_name": "B"}, headers=tenant), 401, "unauthorized"
    )
