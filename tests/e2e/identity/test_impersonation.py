"""Impersonation: a platform admin acting inside a tenant as one of its users, audited."""

from __future__ import annotations

import base64
import json
from typing import Any

from api.common.clock import utcnow
from api.domain.identity.roles import RoleRepository
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import MEMBER_ROLE
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.app import AppClient, assert_problem
from tests.support.database import as_tenant
from tests.support.onboarding import admin_headers, onboard, owner_headers

ME = "/api/v1/auth/me"


def impersonate_url(tenant_id: str | None) -> str:
    return f"/api/v1/tenants/{tenant_id}/impersonate"


async def add_member(
    http: AppClient, onboarded: CreatedTenant, email: str, *, active: bool = True
) -> User:
    """A member of the tenant (stored through the repositories: the users API is elsewhere)."""
    container = http.container
    with as_tenant(onboarded.tenant):
        member = await container.resolve(RoleRepository).get_by_name(MEMBER_ROLE)
        assert member is not None and member.id is not None
        now = utcnow()
        user: User = await container.resolve(UserRepository).add(
            User(
                tenant_id=onboarded.tenant.id,
                email=email,
                full_name="Mo Member",
                is_active=active,
                role_ids=[member.id],
                created_at=now,
                updated_at=now,
            )
        )
    return user


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


async def test_the_token_acts_as_the_user_in_their_tenant_only(
    client: AppClient,
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    member = await add_member(client, acme, "mo@acme.example.com")
    admin = await admin_headers(client)
    admin_id = (await client.get(ME, headers=admin)).json()["id"]
    response = await client.post(
        impersonate_url(acme.tenant.id), json={"user_id": member.id}, headers=admin
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["refresh_token"]
    access = claims(tokens["access_token"])
    assert (access["sub"], access["tid"], access["act"]) == (member.id, acme.tenant.id, admin_id)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = await client.get(ME, headers={**bearer, "X-Tenant-ID": acme.tenant.id or ""})
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["id"], body["email"], body["impersonated_by"]) == (
        member.id, "mo@acme.example.com", admin_id,
    )  # fmt: skip
    # The user's permissions, nothing of the platform's.
    assert body["permissions"] == ["ai:use", "files:read", "files:write"]
    assert body["tenant"]["id"] == acme.tenant.id
    # Only in that tenant: not in another one, not in the platform plane.
    crossed = await client.get(ME, headers={**bearer, "X-Tenant-ID": beta.tenant.id or ""})
    assert_problem(crossed, 401, "unauthorized")
    assert_problem(await client.get(ME, headers=bearer), 401, "unauthorized")
    assert_problem(await client.get("/api/v1/tenants", headers=bearer), 401, "unauthorized")
    # A refreshed pair is still marked as impersonated.
    refreshed = await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"X-Tenant-ID": acme.tenant.id or ""},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json()["access_token"])["act"] == admin_id
    # A plain platform token still gets nothing inside the tenant.
    plain = await client.get(ME, headers={**admin, "X-Tenant-ID": acme.tenant.id or ""})
    assert_problem(plain, 401, "unauthorized")


async def test_impersonating_the_owner_gives_the_owners_permissions(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    admin = await admin_headers(client)
    response = await client.post(
        impersonate_url(acme.tenant.id), json={"user_id": acme.owner.id}, headers=admin
    )
    tokens = response.json()
    me = await client.get(
        ME,
        headers={
            "Authorization": f"Bearer {tokens['access_token']}",
            "X-Tenant-ID": acme.tenant.id or "",
        },
    )
    permissions = me.json()["permissions"]
    assert "users:manage_roles" in permissions
    assert not any(p.startswith("tenants:") for p in permissions)


async def test_the_start_is_audited_in_the_tenant_and_the_platform(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    member = await add_member(client, acme, "mo@acme.example.com")
    admin = await admin_headers(client)
    admin_id = (await client.get(ME, headers=admin)).json()["id"]
    response = await client.post(
        impersonate_url(acme.tenant.id),
        json={"user_id": member.id},
        headers={**admin, "User-Agent": "ops-console"},
    )
    assert response.status_code == 200
    entries = [
        entry
        async for entry in mongo_client[db_name]["audit_logs"].find(
            {"action": "tenant.impersonation_started"}
        )
    ]
    assert sorted((e["tenant_id"] or "") for e in entries) == ["", acme.tenant.id]
    for entry in entries:
        assert (entry["actor_id"], entry["resource_type"], entry["resource_id"]) == (
            admin_id, "user", member.id,
        )  # fmt: skip
        assert entry["changes"]["tenant_id"] == acme.tenant.id
        assert entry["user_agent"] == "ops-console"
        assert entry["request_id"] == response.headers["x-request-id"]


async def test_refused_for_unknown_inactive_or_foreign_users(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    gone = await add_member(client, acme, "gone@acme.example.com", active=False)
    admin = await admin_headers(client)
    url = impersonate_url(acme.tenant.id)
    for user_id in (gone.id, beta.owner.id, "0" * 24, "not-an-id"):
        response = await client.post(url, json={"user_id": user_id}, headers=admin)
        assert_problem(response, 404, "not_found")
    for tenant_id in ("0" * 24, "nope"):
        response = await client.post(
            impersonate_url(tenant_id), json={"user_id": acme.owner.id}, headers=admin
        )
        assert_problem(response, 404, "not_found")
    for body in ({}, {"user_id": ""}, {"user_id": acme.owner.id, "scope": "all"}):
        assert_problem(await client.post(url, json=body, headers=admin), 422, "invalid_input")


async def test_refused_for_a_suspended_tenant(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    admin = await admin_headers(client)
    await client.delete(f"/api/v1/tenants/{acme.tenant.id}", headers=admin)
    response = await client.post(
        impersonate_url(acme.tenant.id), json={"user_id": acme.owner.id}, headers=admin
    )
    assert_problem(response, 403, "tenant_suspended")
    audit = mongo_client[db_name]["audit_logs"]
    assert await audit.count_documents({"action": "tenant.impersonation_started"}) == 0


async def test_refused_for_anyone_but_a_platform_admin(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    member = await add_member(client, acme, "mo@acme.example.com")
    owner = await owner_headers(client, acme)
    url = impersonate_url(acme.tenant.id)
    body = {"user_id": member.id}
    assert_problem(await client.post(url, json=body), 401, "unauthorized")
    assert_problem(await client.post(url, json=body, headers=owner), 403, "forbidden")
    bare = {"Authorization": owner["Authorization"]}
    assert_problem(await client.post(url, json=body, headers=bare), 401, "unauthorized")
    # An impersonation token cannot start another impersonation, in any plane.
    admin = await admin_headers(client)
    tokens = (await client.post(url, json={"user_id": acme.owner.id}, headers=admin)).json()
    acting = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert_problem(await client.post(url, json=body, headers=acting), 401, "unauthorized")
    inside = {**acting, "X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.post(url, json=body, headers=inside), 403, "forbidden")
