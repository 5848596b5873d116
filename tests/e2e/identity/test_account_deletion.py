"""`POST /auth/delete-account`: a tenant user deletes their own account (password, and a
code with MFA on); their sessions end, the tenant keeps an owner; impersonation, API keys
and platform admins are refused. (Their avatar leaving the storage, with an admin's delete
too: tests/e2e/files/test_avatar.py.)"""

from __future__ import annotations

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem
from tests.support.database import audit_actions
from tests.support.mfa import enable_mfa
from tests.support.onboarding import (
    OWNER_PASSWORD,
    admin_headers,
    login,
    onboard,
    owner_headers,
)
from tests.support.people import MEMBER_PASSWORD, USERS, signed_in

DELETE = "/api/v1/auth/delete-account"
ME = "/api/v1/auth/me"


async def test_a_member_deletes_their_own_account(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    tid = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    # Refusals first: none of them deletes anything.
    anonymous = await client.post(
        DELETE, json={"password": MEMBER_PASSWORD}, headers={"X-Tenant-ID": tid}
    )
    assert_problem(anonymous, 401, "unauthorized")
    assert_problem(await client.post(DELETE, json={}, headers=member), 422, "invalid_input")
    wrong = await client.post(DELETE, json={"password": "not-it-at-all"}, headers=member)
    assert_problem(wrong, 401, "unauthorized")
    beta_owner = await owner_headers(client, beta)
    other_tenant = {**member, "X-Tenant-ID": beta.tenant.id or ""}
    assert_problem(await client.post(DELETE, json={"password": MEMBER_PASSWORD},
                                     headers=other_tenant), 401, "unauthorized")  # fmt: skip
    assert (await client.get(ME, headers=member)).status_code == 200

    done = await client.post(DELETE, json={"password": MEMBER_PASSWORD}, headers=member)
    assert done.status_code == 204, done.text
    assert_problem(await client.get(ME, headers=member), 401, "unauthorized")  # sessions ended
    login_again = await client.post(
        "/api/v1/auth/login",
        json={"email": "max@acme.example.com", "password": MEMBER_PASSWORD},
        headers={"X-Tenant-ID": tid},
    )
    assert_problem(login_again, 401, "unauthorized")
    assert_problem(await client.get(f"{USERS}/{max_user['id']}", headers=owner), 404, "not_found")
    actions = await audit_actions(mongo_client, db_name, tid)
    assert "user.deletion_refused" in actions and "user.deleted" in actions
    entry = await mongo_client[db_name]["audit_logs"].find_one({"action": "user.deleted"})
    assert entry is not None and entry["actor_id"] == max_user["id"]
    assert entry["changes"]["self"] is True
    # The other tenant is untouched.
    assert (await client.get(ME, headers=beta_owner)).status_code == 200


async def test_with_mfa_on_a_code_is_needed_and_a_recovery_code_does(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    codes = (await enable_mfa(client, member, set()))["recovery_codes"]
    missing = await client.post(DELETE, json={"password": MEMBER_PASSWORD}, headers=member)
    assert_problem(missing, 401, "invalid_mfa_code")
    wrong = await client.post(
        DELETE, json={"password": MEMBER_PASSWORD, "code": "000000"}, headers=member
    )
    assert_problem(wrong, 401, "invalid_mfa_code")
    done = await client.post(
        DELETE, json={"password": MEMBER_PASSWORD, "code": codes[0]}, headers=member
    )
    assert done.status_code == 204, done.text
    challenge = await client.post(
        "/api/v1/auth/login",
        json={"email": "max@acme.example.com", "password": MEMBER_PASSWORD},
        headers={"X-Tenant-ID": acme.tenant.id or ""},
    )
    assert_problem(challenge, 401, "unauthorized")


async def test_the_last_owner_stays_and_keys_admins_and_impersonators_cannot(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    last = await client.post(DELETE, json={"password": OWNER_PASSWORD}, headers=owner)
    assert "owner" in assert_problem(last, 409, "conflict")["detail"]

    key = await client.post(
        "/api/v1/api-keys", json={"name": "sync", "permissions": ["contacts:read"]},
        headers=owner,
    )  # fmt: skip
    assert key.status_code == 201, key.text
    as_key = {"X-API-Key": key.json()["key"], "X-Tenant-ID": tid}
    refused = await client.post(DELETE, json={"password": OWNER_PASSWORD}, headers=as_key)
    assert_problem(refused, 403, "forbidden")

    admin = await admin_headers(client)
    assert_problem(await client.post(DELETE, json={"password": "whatever-1"}, headers=admin),
                   403, "forbidden")  # fmt: skip
    impersonation = await client.post(
        f"/api/v1/tenants/{tid}/impersonate", json={"user_id": acme.owner.id}, headers=admin
    )
    assert impersonation.status_code == 200, impersonation.text
    acting = {"Authorization": f"Bearer {impersonation.json()['access_token']}",
              "X-Tenant-ID": tid}  # fmt: skip
    assert_problem(await client.post(DELETE, json={"password": OWNER_PASSWORD}, headers=acting),
                   403, "forbidden")  # fmt: skip

    # With a second owner, the first may go.
    second, _ = await signed_in(client, acme, owner, "sam@acme.example.com",
                                roles=["owner"])  # fmt: skip
    gone = await client.post(DELETE, json={"password": OWNER_PASSWORD}, headers=owner)
    assert gone.status_code == 204, gone.text
    tokens = await login(client, "sam@acme.example.com", MEMBER_PASSWORD, tid)
    sam = {"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tid}
    listed = (await client.get(USERS, headers=sam)).json()["items"]
    assert [u["email"] for u in listed] == ["sam@acme.example.com"]
    assert second["id"] == listed[0]["id"]
