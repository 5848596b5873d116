"""Sign-in, tenant binding, refresh rotation and reuse, logout, rate limits and lockout."""

from __future__ import annotations

import asyncio

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem, serve
from tests.support.onboarding import OWNER_PASSWORD, login, onboard, owner_headers
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"


async def test_owner_signs_in_and_sees_their_permissions(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tokens = await login(client, "OWNER@acme.example.com ", OWNER_PASSWORD, acme.tenant.id)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = await client.get(
        ME,
        headers={
            "Authorization": f"Bearer {tokens['access_token']}",
            "X-Tenant-ID": acme.tenant.id or "",
        },
    )
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == "owner@acme.example.com"
    assert body["tenant_id"] == acme.tenant.id
    assert body["tenant"] == {"id": acme.tenant.id, "name": "Acme", "subdomain": "acme"}
    assert [r["name"] for r in body["roles"]] == ["owner"]
    assert "users:manage_roles" in body["permissions"]
    assert not any(p.startswith("tenants:") for p in body["permissions"])
    assert "password_hash" not in me.text and "mfa_secret" not in me.text


async def test_platform_admin_signs_in_without_a_tenant(client: AppClient) -> None:
    tokens = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    me = (
        await client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    ).json()
    assert me["tenant"] is None and me["tenant_id"] is None
    assert set(me["permissions"]) == {
        "tenants:read", "tenants:write", "tenants:impersonate", "plans:manage",
        "platform_analytics:read",
    }  # fmt: skip


async def test_wrong_password_and_unknown_email_answer_the_same(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    headers = {"X-Tenant-ID": acme.tenant.id or ""}
    wrong = await client.post(
        LOGIN, json={"email": acme.owner.email, "password": "nope-nope"}, headers=headers
    )
    unknown = await client.post(
        LOGIN, json={"email": "ghost@acme.example.com", "password": "nope-nope"}, headers=headers
    )
    for response in (wrong, unknown):
        body = assert_problem(response, 401, "unauthorized")
        assert body["detail"] == "Invalid email or password."
        assert response.headers["www-authenticate"] == "Bearer"
    # The same email in another tenant is another account.
    beta = await onboard(client, "beta", email=acme.owner.email, password="beta-password-1")
    other = await client.post(
        LOGIN,
        json={"email": acme.owner.email, "password": OWNER_PASSWORD},
        headers={"X-Tenant-ID": beta.tenant.id or ""},
    )
    assert_problem(other, 401, "unauthorized")


async def test_bad_login_input_is_422(client: AppClient) -> None:
    for body in ({}, {"email": "a@b.co"}, {"email": "x", "password": "p"}, {"password": ""}):
        assert_problem(await client.post(LOGIN, json=body), 422, "invalid_input")


async def test_a_token_only_works_in_its_own_tenant(client: AppClient) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    acme_auth = await owner_headers(client, acme)
    bearer = {"Authorization": acme_auth["Authorization"]}
    assert (await client.get(ME, headers=acme_auth)).status_code == 200
    crossed = await client.get(ME, headers={**bearer, "X-Tenant-ID": beta.tenant.id or ""})
    assert_problem(crossed, 401, "unauthorized")
    assert_problem(await client.get(ME, headers=bearer), 401, "unauthorized")  # platform plane
    admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    platform_in_tenant = await client.get(
        ME,
        headers={
            "Authorization": f"Bearer {admin['access_token']}",
            "X-Tenant-ID": acme.tenant.id or "",
        },
    )
    assert_problem(platform_in_tenant, 401, "unauthorized")


async def test_missing_and_garbage_tokens_are_401(client: AppClient) -> None:
    assert_problem(await client.get(ME), 401, "unauthorized")
    for value in ("Bearer", "Bearer abc.def.ghi", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
        assert_problem(await client.get(ME, headers={"Authorization": value}), 401, "unauthorized")


async def test_refresh_rotates_and_the_old_token_is_spent(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    first = await login(client, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)
    second = await client.post(
        REFRESH, json={"refresh_token": first["refresh_token"]}, headers=tenant
    )
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    me = await client.get(ME, headers={**tenant, "Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    again = await client.post(
        REFRESH, json={"refresh_token": first["refresh_token"]}, headers=tenant
    )
    assert_problem(again, 401, "unauthorized")
    # Refreshing in another tenant (or the platform plane) is refused.
    beta = await onboard(client, "beta")
    crossed = await client.post(
        REFRESH,
        json={"refresh_token": pair["refresh_token"]},
        headers={"X-Tenant-ID": beta.tenant.id or ""},
    )
    assert_problem(crossed, 401, "unauthorized")
    for junk in ("", "abc", "a.b", "x" * 600):
        response = await client.post(REFRESH, json={"refresh_token": junk}, headers=tenant)
        assert response.status_code in (401, 422)


async def test_reuse_of_a_spent_refresh_token_ends_the_session(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.auth.refresh_reuse_grace_seconds = 0
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        tenant = {"X-Tenant-ID": acme.tenant.id or ""}
        stolen = await login(http, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)
        legit = (
            await http.post(
                REFRESH, json={"refresh_token": stolen["refresh_token"]}, headers=tenant
            )
        ).json()
        reuse = await http.post(
            REFRESH, json={"refresh_token": stolen["refresh_token"]}, headers=tenant
        )
        assert_problem(reuse, 401, "unauthorized")
        # The whole family is gone: the legitimate newer tokens stop working too.
        after = await http.post(
            REFRESH, json={"refresh_token": legit["refresh_token"]}, headers=tenant
        )
        assert_problem(after, 401, "unauthorized")
        me = await http.get(
            ME, headers={**tenant, "Authorization": f"Bearer {legit['access_token']}"}
        )
        assert_problem(me, 401, "unauthorized")
    entry = await mongo_client[db_name]["audit_logs"].find_one({"action": "auth.refresh_reused"})
    assert entry is not None and entry["tenant_id"] == acme.tenant.id


async def test_concurrent_refreshes_of_one_token_exactly_one_wins(
    client: AppClient,
) -> None:
    acme = await onboard(client, "acme")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    tokens = await login(client, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)
    responses = await asyncio.gather(
        *(
            client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}, headers=tenant)
            for _ in range(8)
        )
    )
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert all(r.status_code == 401 for r in responses if r is not winners[0])
    # The winner's session survives the race (no reuse revocation within the grace period).
    pair = winners[0].json()
    follow = await client.post(
        REFRESH, json={"refresh_token": pair["refresh_token"]}, headers=tenant
    )
    assert follow.status_code == 200


async def test_logout_ends_access_and_refresh_at_once(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    tokens = await login(client, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)
    auth = {**tenant, "Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=auth)).status_code == 204
    assert_problem(await client.get(ME, headers=auth), 401, "unauthorized")
    refreshed = await client.post(
        REFRESH, json={"refresh_token": tokens["refresh_token"]}, headers=tenant
    )
    assert_problem(refreshed, 401, "unauthorized")
    assert_problem(await client.post("/api/v1/auth/logout", headers=auth), 401, "unauthorized")


async def test_login_is_rate_limited_per_account_with_retry_after(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    settings.auth.login_rate_per_account = 3
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        headers = {"X-Tenant-ID": acme.tenant.id or ""}
        body = {"email": acme.owner.email, "password": OWNER_PASSWORD}
        statuses = [
            (await http.post(LOGIN, json=body, headers=headers)).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = await http.post(LOGIN, json=body, headers=headers)
        assert_problem(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name)
    settings.auth.lockout_threshold = 3
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        headers = {"X-Tenant-ID": acme.tenant.id or ""}
        for _ in range(3):
            wrong = {"email": acme.owner.email, "password": "wrong-password"}
            assert (await http.post(LOGIN, json=wrong, headers=headers)).status_code == 401
        right = {"email": acme.owner.email, "password": OWNER_PASSWORD}
        locked = await http.post(LOGIN, json=right, headers=headers)
        assert_problem(locked, 429, "rate_limited")
        assert int(locked.headers["retry-after"]) > 60
    failures = await mongo_client[db_name]["audit_logs"].count_documents(
        {"action": "auth.login_failed", "tenant_id": acme.tenant.id}
    )
    assert failures == 3
