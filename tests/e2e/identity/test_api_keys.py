"""`/api/v1/api-keys`: a tenant's keys for server-to-server integrations. Created with
permissions the creator holds, shown once, stored hashed, accepted as a bearer or an
`X-API-Key`, bound to their tenant, expiring, revoked at once on every API process,
audited and rate limited per key."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import punq
from pymongo import AsyncMongoClient

from api.domain.identity.auth import AuthPolicy
from tests.fakes.clock import FakeUtcClock
from tests.support.api_process import api_env, api_processes
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.people import AUDIT, audit_entries, signed_in, two_tenants

KEYS = "/api/v1/api-keys"
CONTACTS = "/api/v1/contacts"
KEY_FIELDS = {"id", "name", "prefix", "permissions", "last_used_at", "expires_at", "created_at"}

MongoClient = AsyncMongoClient[dict[str, Any]]


async def create_key(
    http: httpx.AsyncClient, headers: dict[str, str], permissions: list[str], **extra: Any
) -> dict[str, Any]:
    body = {"name": "CRM sync", "permissions": permissions, **extra}
    created = await http.post(KEYS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def as_bearer(tenant_id: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Tenant-ID": tenant_id}


def as_header(tenant_id: str, key: str) -> dict[str, str]:
    return {"X-API-Key": key, "X-Tenant-ID": tenant_id}


async def test_create_list_read_revoke_and_the_secret_is_shown_once(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    created = await create_key(client, owner, ["contacts:read", "contacts:write"])
    secret = created.pop("key")
    assert set(created) == KEY_FIELDS
    assert created["permissions"] == ["contacts:read", "contacts:write"]
    assert created["last_used_at"] is None and created["expires_at"] is None
    assert secret.startswith(f"pk_{created['prefix']}_") and len(secret) >= 3 + 8 + 1 + 43
    assert len(created["prefix"]) == 8

    # Never answered again, and stored only as a keyed hash.
    listed = await client.get(KEYS, headers=owner)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1 and listed.json()["items"] == [created]
    one = await client.get(f"{KEYS}/{created['id']}", headers=owner)
    assert one.json() == created
    assert secret not in listed.text + one.text
    [stored] = await mongo_client[db_name]["api_keys"].find({}).to_list()
    assert secret not in str(stored)
    assert stored["secret_hash"] != hashlib.sha256(secret.encode()).hexdigest()
    assert stored["tenant_id"] == tenant_id

    # The key works, as a bearer and as X-API-Key; last_used_at is set.
    for headers in (as_bearer(tenant_id, secret), as_header(tenant_id, secret)):
        made = await client.post(
            CONTACTS, json={"phone": "+4915112345678", "name": "Ada"}, headers=headers
        )
        assert made.status_code in (201, 409), made.text
        assert (await client.get(CONTACTS, headers=headers)).status_code == 200
    used = (await client.get(f"{KEYS}/{created['id']}", headers=owner)).json()
    assert used["last_used_at"] is not None

    # Revoked: 204, the key is 401 at once, gone from the list and 404 by id.
    revoked = await client.delete(f"{KEYS}/{created['id']}", headers=owner)
    assert revoked.status_code == 204
    assert_problem(await client.get(CONTACTS, headers=as_bearer(tenant_id, secret)), 401,
                   "unauthorized")  # fmt: skip
    assert_problem(await client.get(CONTACTS, headers=as_header(tenant_id, secret)), 401,
                   "unauthorized")  # fmt: skip
    assert (await client.get(KEYS, headers=owner)).json()["total"] == 0
    assert_problem(await client.get(f"{KEYS}/{created['id']}", headers=owner), 404, "not_found")
    assert_problem(await client.delete(f"{KEYS}/{created['id']}", headers=owner), 404,
                   "not_found")  # fmt: skip

    # Audited, naming the key; the secret is nowhere in the log.
    actions = {e["action"]: e for e in await audit_entries(client, owner)}
    assert actions["api_key.created"]["resource_id"] == created["id"]
    assert actions["api_key.created"]["actor_id"] == acme.owner.id
    assert actions["api_key.revoked"]["resource_id"] == created["id"]
    assert actions["api_key.auth_failed"]["changes"]["reason"] == "revoked"
    assert actions["api_key.auth_failed"]["actor_id"] == f"api_key:{created['id']}"
    made_by_key = await audit_entries(client, owner, action="contact.created")
    assert [e["actor_id"] for e in made_by_key] == [f"api_key:{created['id']}"]
    everything = await client.get(AUDIT, params={"page_size": 100}, headers=owner)
    assert secret not in everything.text


async def test_the_key_holds_only_what_it_was_given(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    key = (await create_key(client, owner, ["contacts:read"]))["key"]
    headers = as_header(tenant_id, key)
    assert (await client.get(CONTACTS, headers=headers)).status_code == 200
    assert_problem(await client.post(CONTACTS, json={"phone": "+4915112345678"},
                                     headers=headers), 403, "forbidden")  # fmt: skip
    assert_problem(await client.get("/api/v1/users", headers=headers), 403, "forbidden")
    # Routes about the signed-in user: a key is no user.
    for method, path in (("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/logout")):
        answer = await client.request(method, path, headers=headers)
        body = assert_problem(answer, 403, "forbidden")
        assert "API key" in body["detail"]
    passwords = {"current_password": "x" * 10, "new_password": "y" * 12}
    change = await client.post("/api/v1/auth/change-password", headers=headers, json=passwords)
    assert_problem(change, 403, "forbidden")
    # A key cannot manage keys, even one holding every other permission.
    assert_problem(await client.get(KEYS, headers=headers), 403, "forbidden")


async def test_permissions_must_be_held_by_the_creator(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    role = await client.post(
        "/api/v1/roles",
        json={"name": "integrator", "permissions": ["api_keys:manage", "contacts:read"]},
        headers=owner,
    )
    assert role.status_code == 201, role.text
    _, integrator = await signed_in(client, acme, owner, "int@acme.example.com",
                                    roles=["integrator"])  # fmt: skip
    assert (await create_key(client, integrator, ["contacts:read"]))["permissions"] == [
        "contacts:read"
    ]
    wider = await client.post(
        KEYS, json={"name": "x", "permissions": ["contacts:read", "contacts:write"]},
        headers=integrator,
    )  # fmt: skip
    body = assert_problem(wider, 403, "forbidden")
    assert "contacts:write" in body["detail"] and "contacts:read" not in body["detail"]

    # Unknown, platform, api_keys:manage, none, past expiry, bad name: 422, nothing stored.
    bad_bodies: list[dict[str, Any]] = [
        {"name": "x", "permissions": ["contacts:fly"]},
        {"name": "x", "permissions": ["tenants:write"]},
        {"name": "x", "permissions": ["api_keys:manage"]},
        {"name": "x", "permissions": []},
        {"name": "x", "permissions": ["contacts:read"], "expires_at": "2020-01-01T00:00:00Z"},
        {"name": "x", "permissions": ["contacts:read"], "expires_at": "2999-01-01T00:00:00"},
        {"name": "x", "permissions": ["contacts:read"], "expires_at": "9999-12-31T23:59:59-14:00"},
        {"name": "   ", "permissions": ["contacts:read"]},
        {"name": "x", "permissions": ["contacts:read"], "secret": "mine"},
    ]
    for bad in bad_bodies:
        assert_problem(await client.post(KEYS, json=bad, headers=owner), 422, "invalid_input")
    assert (await client.get(KEYS, headers=owner)).json()["total"] == 1

    # A member without api_keys:manage; no credentials at all.
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    assert_problem(await client.get(KEYS, headers=member), 403, "forbidden")
    assert_problem(
        await client.post(KEYS, json={"name": "x", "permissions": ["files:read"]}, headers=member),
        403, "forbidden",
    )  # fmt: skip
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    assert_problem(await client.get(KEYS, headers=tenant_only), 401, "unauthorized")


async def test_a_key_is_bound_to_its_tenant(client: AppClient) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(client)
    acme_id, beta_id = acme.tenant.id or "", beta.tenant.id or ""
    made = await client.post(CONTACTS, json={"phone": "+4915199999999", "name": "Beta's"},
                             headers=beta_owner)  # fmt: skip
    assert made.status_code == 201
    acme_key = await create_key(client, acme_owner, ["contacts:read"])
    beta_key = await create_key(client, beta_owner, ["contacts:read"])

    for headers in (as_bearer(beta_id, acme_key["key"]), as_header(beta_id, acme_key["key"])):
        assert_problem(await client.get(CONTACTS, headers=headers), 401, "unauthorized")
        assert_problem(await client.get(f"{CONTACTS}/{made.json()['id']}", headers=headers),
                       401, "unauthorized")  # fmt: skip
    # No tenant named (the platform plane): refused too.
    no_tenant = {"X-API-Key": acme_key["key"]}
    assert_problem(await client.get("/api/v1/tenants", headers=no_tenant), 401, "unauthorized")
    # Each tenant sees and manages only its own keys.
    assert [k["id"] for k in (await client.get(KEYS, headers=acme_owner)).json()["items"]] == [
        acme_key["id"]
    ]
    assert_problem(await client.get(f"{KEYS}/{beta_key['id']}", headers=acme_owner), 404,
                   "not_found")  # fmt: skip
    assert_problem(await client.delete(f"{KEYS}/{beta_key['id']}", headers=acme_owner), 404,
                   "not_found")  # fmt: skip
    beta_sees = await client.get(CONTACTS, headers=as_header(beta_id, beta_key["key"]))
    assert [c["id"] for c in beta_sees.json()["items"]] == [made.json()["id"]]
    acme_sees = await client.get(CONTACTS, headers=as_header(acme_id, acme_key["key"]))
    assert acme_sees.json()["items"] == []
    # Malformed keys, or a key and a token at once: 401.
    for wrong in ("pk_nothing", "pk_abcdef12_" + "x" * 43, acme_key["key"] + "x"):
        assert_problem(await client.get(CONTACTS, headers=as_header(acme_id, wrong)), 401,
                       "unauthorized")  # fmt: skip
    both = {**acme_owner, "X-API-Key": acme_key["key"]}
    assert_problem(await client.get(CONTACTS, headers=both), 401, "unauthorized")


async def test_an_expired_key_is_refused(client: AppClient, container: punq.Container) -> None:
    clock = FakeUtcClock(datetime.now(UTC).replace(microsecond=0))
    use_clock(container, clock)
    acme, owner, _, _ = await two_tenants(client)
    expires = clock.now() + timedelta(hours=1)
    created = await create_key(client, owner, ["contacts:read"], expires_at=expires.isoformat())
    assert datetime.fromisoformat(created["expires_at"]) == expires
    headers = as_bearer(acme.tenant.id or "", created["key"])
    assert (await client.get(CONTACTS, headers=headers)).status_code == 200
    clock.advance(minutes=59, seconds=59)
    assert (await client.get(CONTACTS, headers=headers)).status_code == 200
    clock.advance(seconds=1)
    body = assert_problem(await client.get(CONTACTS, headers=headers), 401, "unauthorized")
    assert "expired" in body["detail"]
    [failed] = await audit_entries(client, owner, action="api_key.auth_failed")
    assert failed["changes"] == {"prefix": created["prefix"], "reason": "expired"}


async def test_the_rate_limit_is_per_key(client: AppClient, container: punq.Container) -> None:
    policy = container.resolve(AuthPolicy)
    container.register(AuthPolicy, instance=replace(policy, api_key_rate_per_minute=3))
    container._singletons.clear()  # the use cases built so far read the policy again
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    first = as_header(tenant_id, (await create_key(client, owner, ["contacts:read"]))["key"])
    other = as_header(tenant_id, (await create_key(client, owner, ["contacts:read"]))["key"])
    for _ in range(3):
        assert (await client.get(CONTACTS, headers=first)).status_code == 200
    limited = await client.get(CONTACTS, headers=first)
    assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert (await client.get(CONTACTS, headers=other)).status_code == 200
    assert (await client.get(CONTACTS, headers=owner)).status_code == 200


async def test_revocation_reaches_every_api_process(
    client: AppClient, mongo_url: str, redis_url: str, db_name: str, tmp_path: Path
) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    created = await create_key(client, owner, ["contacts:read"])
    headers = as_bearer(tenant_id, created["key"])
    env = api_env(mongo_url, redis_url, db_name)
    async with api_processes(env, [tmp_path / "a.log", tmp_path / "b.log"]) as [first, second]:
        assert first.base_url != second.base_url
        for replica in (first, second, first, second):
            assert (await replica.get(CONTACTS, headers=headers)).status_code == 200
        revoked = await first.delete(f"{KEYS}/{created['id']}", headers=owner)
        assert revoked.status_code == 204, revoked.text
        assert_problem(await second.get(CONTACTS, headers=headers), 401, "unauthorized")
        assert_problem(await first.get(CONTACTS, headers=as_header(tenant_id, created["key"])),
                       401, "unauthorized")  # fmt: skip


async def test_a_key_acts_as_itself_within_its_permissions(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    tenant_id = acme.tenant.id or ""
    granted = ["users:read", "users:write", "users:manage_roles", "roles:read", "ai:use",
               "files:read", "files:write"]  # fmt: skip
    created = await create_key(client, owner, granted)
    headers = as_bearer(tenant_id, created["key"])
    # The key grants what it holds (a member's role), as the key, not as its creator.
    made = await client.post(
        "/api/v1/users",
        json={"email": "sync@acme.example.com", "full_name": "Synced", "password": "pw-synced-1"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    [entry] = await audit_entries(client, owner, action="user.created")
    assert entry["actor_id"] == f"api_key:{created['id']}"
    # Not what it lacks: an admin's role holds permissions the key does not.
    admin_role = next(
        r["id"] for r in (await client.get("/api/v1/roles", headers=owner)).json()["items"]
        if r["name"] == "admin"
    )  # fmt: skip
    wider = await client.put(
        f"/api/v1/users/{made.json()['id']}/roles", json={"role_ids": [admin_role]},
        headers=headers,
    )  # fmt: skip
    body = assert_problem(wider, 403, "forbidden")
    assert "grant" in body["detail"] and "api_keys:manage" in body["detail"]
