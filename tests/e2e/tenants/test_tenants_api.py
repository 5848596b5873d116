"""The platform plane's tenant routes: create, list, search, read, edit, suspend, and the
public subdomain check, over HTTP with the whole app."""

from __future__ import annotations

from typing import Any

import httpx
import punq
import pytest

from api.domain.identity.auth import OneTimeTokens
from api.domain.tenants.tenant import TenantStatus
from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, ClientFactory, assert_problem
from tests.support.database import create_tenant
from tests.support.onboarding import admin_headers, login, onboard, owner_headers

TENANTS = "/api/v1/tenants"
AVAILABILITY = f"{TENANTS}/subdomain-availability"
NEW = {
    "name": "Acme Corp",
    "subdomain": "acme",
    "owner_email": "Boss@Acme.example.com",
    "owner_password": "boss-password-1",
    "owner_full_name": "Bea Boss",
}


async def admin_id(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me: dict[str, Any] = (await http.get("/api/v1/auth/me", headers=headers)).json()
    return str(me["id"])


async def test_admin_creates_a_tenant_whose_owner_can_sign_in(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    admin = await admin_headers(client)
    response = await client.post(TENANTS, json=NEW, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    tenant_id = body["id"]
    assert body == {
        "id": tenant_id,
        "name": "Acme Corp",
        "subdomain": "acme",
        "status": "active",
        "signup_mode": "invite_only",
        "require_email_verification": True,
        "created_at": body["created_at"],
        "owner": {
            "id": body["owner"]["id"],
            "email": "boss@acme.example.com",
            "full_name": "Bea Boss",
            "invitation": None,
        },
    }
    tokens = await login(client, "boss@acme.example.com", "boss-password-1", tenant_id)
    me = await client.get(
        "/api/v1/auth/me",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tenant_id},
    )
    assert [r["name"] for r in me.json()["roles"]] == ["owner"]
    entry = await mongo_client[db_name]["audit_logs"].find_one({"action": "tenant.created"})
    assert entry is not None
    assert (entry["tenant_id"], entry["actor_id"]) == (tenant_id, await admin_id(client, admin))
    assert await mongo_client[db_name]["outbound_emails"].count_documents({}) == 0


async def test_an_owner_without_a_password_is_invited_by_email(
    client: AppClient, container: punq.Container, mongo_client: MongoClient, db_name: str
) -> None:
    body = {k: v for k, v in NEW.items() if k != "owner_password"}
    response = await client.post(TENANTS, json=body, headers=await admin_headers(client))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["owner"]["invitation"] == "queued"
    email = await mongo_client[db_name]["outbound_emails"].find_one({})
    assert email is not None
    assert (email["tenant_id"], email["to"], email["template"], email["status"]) == (
        created["id"], "boss@acme.example.com", "invitation", "queued",
    )  # fmt: skip
    context = email["context"]
    assert set(context) == {"inviter_name", "user_name", "accept_url", "expires_hours"}
    assert (context["user_name"], context["expires_hours"]) == ("Bea Boss", 72)
    prefix = "http://127.0.0.1:8000/accept-invitation?token="
    assert context["accept_url"].startswith(prefix)
    token = context["accept_url"].removeprefix(prefix)
    # The link's token is a real, single-use invitation for this owner in this tenant.
    one_time = container.resolve(OneTimeTokens)
    consumed = await one_time.consume(purpose="invitation", token=token)
    assert consumed == (created["owner"]["id"], created["id"])
    # The owner has no password yet: no sign-in is possible.
    refused = await client.post(
        "/api/v1/auth/login",
        json={"email": "boss@acme.example.com", "password": "anything-at-all"},
        headers={"X-Tenant-ID": created["id"]},
    )
    assert_problem(refused, 401, "unauthorized")


@pytest.mark.parametrize(
    "change",
    [
        {"subdomain": "bad_label"},
        {"subdomain": "-acme"},
        {"subdomain": "a" * 64},
        {"subdomain": "www"},
        {"subdomain": "Admin"},
        {"subdomain": None},
        {"owner_email": None},
        {"owner_full_name": None},
        {"name": None},
        {"name": "   "},
        {"owner_full_name": " "},
        {"owner_email": "not-an-email"},
        {"owner_password": "short"},
        {"owner_password": "boss@acme.example.com"},
        {"plan": "gold"},
        {"status": "suspended"},
    ],
)
async def test_create_refuses_bad_input(
    client: AppClient, mongo_client: MongoClient, db_name: str, change: dict[str, Any]
) -> None:
    body = {**NEW, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await client.post(TENANTS, json=body, headers=await admin_headers(client))
    problem = assert_problem(response, 422, "invalid_input")
    assert problem["errors"]
    assert await mongo_client[db_name]["tenants"].count_documents({}) == 0


async def test_a_taken_subdomain_is_409(client: AppClient) -> None:
    admin = await admin_headers(client)
    assert (await client.post(TENANTS, json=NEW, headers=admin)).status_code == 201
    again = {**NEW, "subdomain": " ACME ", "owner_email": "other@example.com"}
    assert_problem(await client.post(TENANTS, json=again, headers=admin), 409, "conflict")


async def test_every_route_is_for_platform_admins_only(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tenant_id = acme.tenant.id or ""
    admin = await admin_headers(client)
    owner = await owner_headers(client, acme)
    routes = [
        ("GET", TENANTS, None),
        ("POST", TENANTS, {**NEW, "subdomain": "other"}),
        ("GET", f"{TENANTS}/search?name=ac", None),
        ("GET", f"{TENANTS}/{tenant_id}", None),
        ("PUT", f"{TENANTS}/{tenant_id}", {"name": "Taken over"}),
        ("DELETE", f"{TENANTS}/{tenant_id}", None),
        ("POST", f"{TENANTS}/{tenant_id}/impersonate", {"user_id": acme.owner.id}),
    ]
    for method, url, body in routes:

        async def send(
            headers: dict[str, str], method: str = method, url: str = url, body: Any = body
        ) -> httpx.Response:
            return await client.request(method, url, json=body, headers=headers)

        assert_problem(await send({}), 401, "unauthorized")
        assert_problem(await send({"Authorization": "Bearer x.y.z"}), 401, "unauthorized")
        # A tenant owner's token: refused in its tenant (403) and outside it (401).
        assert_problem(await send(owner), 403, "forbidden")
        bare_owner = {"Authorization": owner["Authorization"]}
        assert_problem(await send(bare_owner), 401, "unauthorized")
        # A request naming a tenant never reaches these routes, whoever asks.
        assert_problem(await send({**admin, "X-Tenant-ID": tenant_id}), 403, "forbidden")
        assert_problem(await send({"X-Tenant-ID": tenant_id}), 403, "forbidden")
    # Nothing changed on the way.
    tenant = (await client.get(f"{TENANTS}/{tenant_id}", headers=admin)).json()
    assert (tenant["name"], tenant["status"]) == ("Acme", "active")


async def test_list_pages_and_filters(client: AppClient) -> None:
    for subdomain, name in [("acme", "Acme"), ("beta", "Zeta Beta"), ("acorn", "Oak Trees")]:
        await create_tenant(subdomain, name)
    await create_tenant("gone", "Acme Gone", status=TenantStatus.SUSPENDED)
    admin = await admin_headers(client)

    async def page(**params: Any) -> dict[str, Any]:
        response = await client.get(TENANTS, params=params, headers=admin)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = await page(page_size=3)
    assert (first["total"], first["page"], first["page_size"]) == (4, 1, 3)
    assert [t["subdomain"] for t in first["items"]] == ["acme", "acorn", "beta"]
    assert set(first["items"][0]) >= {"signup_mode", "require_email_verification"}
    assert [t["subdomain"] for t in (await page(page=2, page_size=3))["items"]] == ["gone"]
    assert (await page(page=9))["items"] == []
    # `q`: the start of the name or the subdomain, any case; its characters are literal.
    assert [t["subdomain"] for t in (await page(q="AC"))["items"]] == ["acme", "acorn", "gone"]
    assert [t["subdomain"] for t in (await page(q="zeta b"))["items"]] == ["beta"]
    assert [t["subdomain"] for t in (await page(q="oak"))["items"]] == ["acorn"]
    assert (await page(q="beta"))["total"] == 1  # a later word of a name is not a prefix
    assert (await page(q=".*"))["total"] == 0
    assert (await page(q="\u0301"))["total"] == 0  # normalises to no name text: no match-all
    suspended = await page(status="suspended")
    assert [t["subdomain"] for t in suspended["items"]] == ["gone"]
    assert (await page(q="acme", status="active"))["total"] == 1
    for bad in ({"page_size": 101}, {"page": 0}, {"status": "deleted"}, {"q": "x" * 201}):
        response = await client.get(TENANTS, params=bad, headers=admin)
        assert_problem(response, 422, "invalid_input")


async def test_search_by_name_gives_at_most_twenty(client: AppClient) -> None:
    for i in range(22):
        await create_tenant(f"shop{i:02d}", f"Shop {i:02d}")
    await create_tenant("other", "Other")
    admin = await admin_headers(client)
    found = await client.get(f"{TENANTS}/search", params={"name": "sHoP"}, headers=admin)
    assert found.status_code == 200, found.text
    assert list(found.json()) == ["items"]
    assert [t["subdomain"] for t in found.json()["items"]] == [f"shop{i:02d}" for i in range(20)]
    one = await client.get(f"{TENANTS}/search", params={"name": "Oth"}, headers=admin)
    assert [t["name"] for t in one.json()["items"]] == ["Other"]
    for params in ({}, {"name": ""}):
        response = await client.get(f"{TENANTS}/search", params=params, headers=admin)
        assert_problem(response, 422, "invalid_input")


async def test_read_one_tenant(client: AppClient) -> None:
    acme = await create_tenant("acme", "Acme")
    admin = await admin_headers(client)
    found = await client.get(f"{TENANTS}/{acme.id}", headers=admin)
    assert found.status_code == 200, found.text
    assert (found.json()["id"], found.json()["subdomain"]) == (acme.id, "acme")
    for missing in ("0" * 24, "not-an-id", "a" * 25):
        assert_problem(await client.get(f"{TENANTS}/{missing}", headers=admin), 404, "not_found")


async def test_edit_a_tenant_is_audited_with_its_diff(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await create_tenant("acme", "Acme")
    admin = await admin_headers(client)
    url = f"{TENANTS}/{acme.id}"
    changes = {"name": " Acme Global ", "signup_mode": "open", "require_email_verification": False}
    edited = await client.put(url, json=changes, headers=admin)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["signup_mode"], body["require_email_verification"]) == (
        "Acme Global", "open", False,
    )  # fmt: skip
    assert body["subdomain"] == "acme" and body["status"] == "active"
    assert (await client.get(url, headers=admin)).json() == body
    public = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": acme.id or ""})
    assert public.json()["name"] == "Acme Global"
    # The new name is searchable.
    found = await client.get(f"{TENANTS}/search", params={"name": "acme g"}, headers=admin)
    assert [t["id"] for t in found.json()["items"]] == [acme.id]
    audit = mongo_client[db_name]["audit_logs"]
    entry = await audit.find_one({"action": "tenant.updated"})
    assert entry is not None
    assert entry["tenant_id"] == acme.id and entry["actor_id"] == await admin_id(client, admin)
    assert entry["changes"] == {
        "name": {"from": "Acme", "to": "Acme Global"},
        "signup_mode": {"from": "invite_only", "to": "open"},
        "require_email_verification": {"from": True, "to": False},
    }
    # Nothing changed: nothing written.
    assert (await client.put(url, json={"signup_mode": "open"}, headers=admin)).status_code == 200
    assert (await client.put(url, json={}, headers=admin)).status_code == 200
    assert await audit.count_documents({"action": "tenant.updated"}) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"subdomain": "other"},
        {"name": ""},
        {"name": "  "},
        {"name": "x" * 201},
        {"signup_mode": "anyone"},
        {"status": "deleted"},
        {"require_email_verification": "maybe"},
        {"owner": "me"},
    ],
)
async def test_edit_refuses_bad_input(client: AppClient, body: dict[str, Any]) -> None:
    acme = await create_tenant("acme", "Acme")
    response = await client.put(
        f"{TENANTS}/{acme.id}", json=body, headers=await admin_headers(client)
    )
    assert_problem(response, 422, "invalid_input")


async def test_edit_or_suspend_an_unknown_tenant_is_404(client: AppClient) -> None:
    admin = await admin_headers(client)
    for missing in ("0" * 24, "nope"):
        url = f"{TENANTS}/{missing}"
        assert_problem(await client.put(url, json={"name": "X"}, headers=admin), 404, "not_found")
        assert_problem(await client.delete(url, headers=admin), 404, "not_found")


async def test_suspension_refuses_the_tenant_at_once_and_keeps_its_data(
    make_client: ClientFactory, mongo_client: MongoClient, db_name: str
) -> None:
    async with make_client(tenant_cache_ttl_seconds=60) as http:  # a warm routing cache
        acme = await onboard(http, "acme")
        tenant_id = acme.tenant.id or ""
        owner, admin = await owner_headers(http, acme), await admin_headers(http)
        assert (await http.get("/api/v1/auth/me", headers=owner)).status_code == 200
        assert (await http.delete(f"{TENANTS}/{tenant_id}", headers=admin)).status_code == 204
        refused = await http.get("/api/v1/auth/me", headers=owner)
        assert_problem(refused, 403, "tenant_suspended")
        tenant = (await http.get(f"{TENANTS}/{tenant_id}", headers=admin)).json()
        assert tenant["status"] == "suspended"
        assert (await http.delete(f"{TENANTS}/{tenant_id}", headers=admin)).status_code == 204
        # Nothing is deleted: the owner is still there, and reactivation brings them back.
        assert await mongo_client[db_name]["users"].count_documents({"tenant_id": tenant_id}) == 1
        back = await http.put(f"{TENANTS}/{tenant_id}", json={"status": "active"}, headers=admin)
        assert back.json()["status"] == "active"
        assert (await http.get("/api/v1/auth/me", headers=owner)).status_code == 200
        paused = await http.put(
            f"{TENANTS}/{tenant_id}", json={"status": "suspended"}, headers=admin
        )
        assert paused.json()["status"] == "suspended"
        assert_problem(await http.get("/api/v1/tenant", headers=owner), 403, "tenant_suspended")
    audit = mongo_client[db_name]["audit_logs"]
    actions = [
        (e["action"], e["tenant_id"], e["changes"]["status"]["to"])
        async for e in audit.find(
            {"resource_type": "tenant", "action": {"$ne": "tenant.created"}}, sort=[("_id", 1)]
        )
    ]
    assert actions == [
        ("tenant.suspended", tenant_id, "suspended"),  # the second DELETE wrote nothing
        ("tenant.activated", tenant_id, "active"),
        ("tenant.suspended", tenant_id, "suspended"),
    ]
