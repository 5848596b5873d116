"""`/api/v1/audit-logs`: every state change is written with who, what, where from; the log
is filtered, paged, tenant-isolated and read-only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import (
    AUDIT,
    ROLES,
    USERS,
    add_user,
    audit_entries,
    create_role,
    signed_in,
)

ENTRY_FIELDS = {
    "id",
    "tenant_id",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "created_at",
}


async def test_state_changes_are_audited_with_their_request(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    traced = {**owner, "User-Agent": "parley-tests/1.0", "X-Request-ID": "req-create-max-1"}
    created = await client.post(
        USERS,
        json={"email": "max@acme.example.com", "full_name": "Max", "password": "max-password-1"},
        headers=traced,
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    [entry] = await audit_entries(client, owner, action="user.created")
    assert set(entry) == ENTRY_FIELDS
    assert entry["tenant_id"] == acme.tenant.id and entry["actor_id"] == acme.owner.id
    assert entry["resource_type"] == "user" and entry["resource_id"] == user_id
    assert entry["user_agent"] == "parley-tests/1.0" and entry["request_id"] == "req-create-max-1"
    assert entry["ip"] == "127.0.0.1"
    assert entry["changes"]["email"] == "max@acme.example.com"
    assert "password" not in entry["changes"] and "max-password-1" not in str(entry)
    assert datetime.fromisoformat(entry["created_at"]).utcoffset() == timedelta(0)

    # Every kind of change leaves its entry.
    url = f"{USERS}/{user_id}"
    role = await create_role(client, owner, "support", ["users:read"])
    await client.put(url, json={"full_name": "Maxwell"}, headers=owner)
    await client.put(f"{url}/roles", json={"role_ids": [role["id"]]}, headers=owner)
    await client.post(f"{url}/deactivate", headers=owner)
    await client.post(f"{url}/activate", headers=owner)
    await client.post(f"{url}/unlock", headers=owner)
    await client.put(f"{ROLES}/{role['id']}", json={"description": "d"}, headers=owner)
    await client.delete(f"{ROLES}/{role['id']}", headers=owner)
    await client.delete(url, headers=owner)
    await add_user(client, owner, "ivy@acme.example.com", password=None)
    actions = [e["action"] for e in await audit_entries(client, owner)]
    expected = {
        "user.created",
        "user.updated",
        "user.roles_changed",
        "user.deactivated",
        "user.activated",
        "user.unlocked",
        "user.deleted",
        "user.invited",
        "role.created",
        "role.updated",
        "role.deleted",
    }
    assert expected <= set(actions)
    # Newest first.
    assert actions[:3] == ["user.invited", "user.created", "user.deleted"]
    assert actions[-1] == "tenant.created"


async def test_audit_log_filters_and_pages(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    await asyncio.sleep(0.01)  # stored times have milliseconds
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    manager, manager_headers = await signed_in(
        client, acme, owner, "m@acme.example.com", roles=["admin"]
    )
    await create_role(client, owner, "one", [])
    await create_role(client, manager_headers, "two", [])
    await add_user(client, manager_headers, "x@acme.example.com")

    def actions(entries: list[dict[str, Any]]) -> list[str]:
        return [e["action"] for e in entries]

    by_manager = await audit_entries(client, owner, actor_id=manager["id"])
    assert sorted(actions(by_manager)) == ["auth.login_succeeded", "role.created", "user.created"]
    roles_only = await audit_entries(client, owner, resource_type="role")
    assert actions(roles_only) == ["role.created", "role.created"]
    assert [e["changes"]["name"] for e in roles_only] == ["two", "one"]
    family = await audit_entries(client, owner, action="user.*")
    assert actions(family) == ["user.created", "user.created"]
    assert await audit_entries(client, owner, action="user") == []  # exact, not a prefix
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await audit_entries(client, owner, since=later) == []
    recent = await audit_entries(client, owner, since=middle.isoformat(), until=later)
    assert len(recent) == 5
    early = await audit_entries(client, owner, until=middle.isoformat())
    assert actions(early) == ["auth.login_succeeded", "tenant.created"]
    page = await client.get(AUDIT, params={"page": 2, "page_size": 2}, headers=owner)
    body = page.json()
    assert page.status_code == 200 and body["page"] == 2 and body["page_size"] == 2
    assert len(body["items"]) == 2 and body["total"] == 7


async def test_audit_log_auth_isolation_and_bad_input(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner, beta_owner = await owner_headers(client, acme), await owner_headers(client, beta)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.get(AUDIT, headers=tenant), 401, "unauthorized")
    assert_problem(await client.get(AUDIT, headers=member), 403, "forbidden")
    # Each tenant reads only its own entries.
    beta_entries = await audit_entries(client, beta_owner)
    assert beta_entries and all(e["tenant_id"] == beta.tenant.id for e in beta_entries)
    assert not [e for e in beta_entries if e["actor_id"] == acme.owner.id]
    assert await audit_entries(client, beta_owner, actor_id=acme.owner.id or "") == []
    for params in (
        {"page": 0},
        {"page_size": 101},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},  # no offset
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ):
        assert_problem(await client.get(AUDIT, params=params, headers=owner), 422, "invalid_input")
    # Read-only: no route edits or deletes entries.
    entry_id = (await audit_entries(client, owner))[0]["id"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, AUDIT, headers=owner)
        assert response.status_code == 405, (method, response.status_code)
        response = await client.request(method, f"{AUDIT}/{entry_id}", headers=owner)
        assert response.status_code in (404, 405), (method, response.status_code)
