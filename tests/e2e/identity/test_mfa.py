"""Two-factor sign-in (TOTP): setup, enable, sign in with a code, disable."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import pyotp
from bson import ObjectId

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem, captured_logs, serve
from tests.support.database import audit_actions
from tests.support.mfa import enable_mfa, sign_in, unused_code, wrong_code
from tests.support.onboarding import OWNER_PASSWORD, login, onboard, owner_headers
from tests.support.people import MEMBER_PASSWORD, signed_in
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

AUTH = "/api/v1/auth"


async def test_mfa_from_setup_to_sign_in_to_disable(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id or "", acme.owner.email
    tenant = {"X-Tenant-ID": tid}
    auth = await owner_headers(client, acme)
    with captured_logs() as logs:
        setup = await client.post(f"{AUTH}/mfa/setup", headers=auth)
        assert setup.status_code == 200, setup.text
        assert setup.headers["cache-control"] == "no-store"
        secret, uri = setup.json()["secret"], setup.json()["otpauth_uri"]
        assert unquote(uri).startswith(f"otpauth://totp/Parley (Acme):{email}?secret={secret}")
        stored = await mongo_client[db_name]["users"].find_one({"_id": ObjectId(acme.owner.id)})
        assert stored is not None and stored["mfa_enabled"] is False
        assert stored["mfa_secret"] and secret not in stored["mfa_secret"]  # encrypted
        # Still off: the password alone signs in.
        assert "access_token" in await sign_in(client, email, OWNER_PASSWORD, tid)

        bad = await client.post(
            f"{AUTH}/mfa/enable", json={"code": wrong_code(secret)}, headers=auth
        )
        assert_problem(bad, 401, "invalid_mfa_code")
        used: set[str] = set()
        code = unused_code(secret, used)
        enabled = await client.post(f"{AUTH}/mfa/enable", json={"code": code}, headers=auth)
        assert enabled.status_code == 204, enabled.text
        assert_problem(await client.post(f"{AUTH}/mfa/setup", headers=auth), 409, "conflict")

        challenge = await sign_in(client, email, OWNER_PASSWORD, tid)
        assert challenge["mfa_required"] is True and "access_token" not in challenge
        verify = f"{AUTH}/mfa/verify"
        wrong = await client.post(
            verify,
            json={"mfa_token": challenge["mfa_token"], "code": wrong_code(secret)},
            headers=tenant,
        )
        assert_problem(wrong, 401, "invalid_mfa_code")
        replayed_at_login = await client.post(
            verify, json={"mfa_token": challenge["mfa_token"], "code": code}, headers=tenant
        )
        assert_problem(replayed_at_login, 401, "invalid_mfa_code")  # spent by enable
        right = await client.post(
            verify,
            json={"mfa_token": challenge["mfa_token"], "code": unused_code(secret, used)},
            headers=tenant,
        )
        assert right.status_code == 200, right.text
        tokens = right.json()
        signed_in = {**tenant, "Authorization": f"Bearer {tokens['access_token']}"}
        me = await client.get(f"{AUTH}/me", headers=signed_in)
        assert me.json()["mfa_enabled"] is True and secret not in me.text

        replayed = await client.post(f"{AUTH}/mfa/disable", json={"code": code}, headers=auth)
        assert_problem(replayed, 401, "invalid_mfa_code")  # a spent code is not taken twice
        disabled = await client.post(
            f"{AUTH}/mfa/disable", json={"code": unused_code(secret, used)}, headers=signed_in
        )
        assert disabled.status_code == 204, disabled.text
    assert not any(secret in line for line in logs)
    stored = await mongo_client[db_name]["users"].find_one({"_id": ObjectId(acme.owner.id)})
    assert stored is not None and stored["mfa_enabled"] is False and stored["mfa_secret"] is None
    assert "access_token" in await sign_in(client, email, OWNER_PASSWORD, tid)
    actions = await audit_actions(mongo_client, db_name, tid)
    for action in ("user.mfa_setup_started", "user.mfa_enabled", "user.mfa_disabled"):
        assert action in actions
    async for entry in mongo_client[db_name]["audit_logs"].find({}):
        assert secret not in str(entry)


async def test_mfa_state_and_input_rules(client: AppClient) -> None:
    acme = await onboard(client, "acme")
    auth = await owner_headers(client, acme)
    not_started = await client.post(f"{AUTH}/mfa/enable", json={"code": "123456"}, headers=auth)
    assert_problem(not_started, 409, "conflict")
    not_on = await client.post(f"{AUTH}/mfa/disable", json={"code": "123456"}, headers=auth)
    assert_problem(not_on, 409, "conflict")
    for body in ({}, {"code": "123"}, {"code": "1" * 33}):
        short = await client.post(f"{AUTH}/mfa/enable", json=body, headers=auth)
        assert_problem(short, 422, "invalid_input")
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    for path in ("setup", "enable", "disable"):
        anonymous = await client.post(
            f"{AUTH}/mfa/{path}", json={"code": "123456"}, headers=tenant_only
        )
        assert_problem(anonymous, 401, "unauthorized")
    # Setting up again before enabling replaces the pending seed: only the new one works.
    first = (await client.post(f"{AUTH}/mfa/setup", headers=auth)).json()["secret"]
    second = (await client.post(f"{AUTH}/mfa/setup", headers=auth)).json()["secret"]
    assert first != second
    stale = await client.post(
        f"{AUTH}/mfa/enable", json={"code": pyotp.TOTP(first).now()}, headers=auth
    )
    assert_problem(stale, 401, "invalid_mfa_code")
    fresh = await client.post(
        f"{AUTH}/mfa/enable", json={"code": pyotp.TOTP(second).now()}, headers=auth
    )
    assert fresh.status_code == 204


async def test_recovery_codes_sign_in_once_each_and_are_renewed_and_erased(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    tid, email = acme.tenant.id or "", acme.owner.email
    tenant = {"X-Tenant-ID": tid}
    auth = await owner_headers(client, acme)
    users = mongo_client[db_name]["users"]
    used: set[str] = set()
    with captured_logs() as logs:
        setup = await enable_mfa(client, auth, used)
        codes: list[str] = setup["recovery_codes"]
        assert len(codes) == len(set(codes)) == 10
        stored = await users.find_one({"_id": ObjectId(acme.owner.id)})
        assert stored is not None and len(stored["mfa_recovery_codes"]) == 10
        assert not any(code in str(stored) for code in codes)  # digests only
        me = (await client.get(f"{AUTH}/me", headers=auth)).json()
        assert me["mfa_recovery_codes_left"] == 10

        verify = f"{AUTH}/mfa/verify"
        challenge = await sign_in(client, email, OWNER_PASSWORD, tid)
        typed = f" {codes[0].upper().replace('-', ' ')} "  # spacing and case do not matter
        right = await client.post(
            verify, json={"mfa_token": challenge["mfa_token"], "code": typed}, headers=tenant
        )
        assert right.status_code == 200, right.text
        signed_in = {**tenant, "Authorization": f"Bearer {right.json()['access_token']}"}
        me = (await client.get(f"{AUTH}/me", headers=signed_in)).json()
        assert me["mfa_recovery_codes_left"] == 9
        again = await client.post(
            verify, json={"mfa_token": challenge["mfa_token"], "code": codes[0]}, headers=tenant
        )
        assert_problem(again, 401, "invalid_mfa_code")  # spent

        # Two sign-ins racing with one code: exactly one gets in.
        racing = await asyncio.gather(
            *(
                client.post(
                    verify,
                    json={"mfa_token": challenge["mfa_token"], "code": codes[1]},
                    headers=tenant,
                )
                for _ in range(2)
            )
        )
        assert sorted(r.status_code for r in racing) == [200, 401]

        # Another tenant's user cannot use these codes, in their tenant or with their token.
        beta_auth = await owner_headers(client, beta)
        await enable_mfa(client, beta_auth, set())
        beta_challenge = await sign_in(client, beta.owner.email, OWNER_PASSWORD, beta.tenant.id)
        foreign = await client.post(
            verify,
            json={"mfa_token": beta_challenge["mfa_token"], "code": codes[2]},
            headers={"X-Tenant-ID": beta.tenant.id or ""},
        )
        assert_problem(foreign, 401, "invalid_mfa_code")
        cross = await client.post(
            verify, json={"mfa_token": challenge["mfa_token"], "code": codes[2]},
            headers={"X-Tenant-ID": beta.tenant.id or ""},
        )  # fmt: skip
        assert_problem(cross, 401, "unauthorized")
        assert (await client.get(f"{AUTH}/me", headers=signed_in)).json()[
            "mfa_recovery_codes_left"
        ] == 8  # neither spent codes[2]

        # New codes: with a recovery code; the old set stops working.
        renew = f"{AUTH}/mfa/recovery-codes"
        assert_problem(await client.post(renew, json={"code": codes[2]}, headers=tenant), 401,
                       "unauthorized")  # fmt: skip
        wrong = await client.post(renew, json={"code": "abcde-fghjk"}, headers=signed_in)
        assert_problem(wrong, 401, "invalid_mfa_code")
        renewed = await client.post(renew, json={"code": codes[2]}, headers=signed_in)
        assert renewed.status_code == 200, renewed.text
        assert renewed.headers["cache-control"] == "no-store"
        fresh: list[str] = renewed.json()["recovery_codes"]
        assert len(fresh) == 10 and not set(fresh) & set(codes)
        assert (await client.get(f"{AUTH}/me", headers=signed_in)).json()[
            "mfa_recovery_codes_left"
        ] == 10
        old = await client.post(f"{AUTH}/mfa/disable", json={"code": codes[3]}, headers=auth)
        assert_problem(old, 401, "invalid_mfa_code")
        # Turning MFA off with a recovery code erases the seed and every code.
        off = await client.post(f"{AUTH}/mfa/disable", json={"code": fresh[0]}, headers=auth)
        assert off.status_code == 204, off.text
        assert (await client.get(f"{AUTH}/me", headers=auth)).json()["mfa_recovery_codes_left"] == 0
        assert_problem(await client.post(renew, json={"code": fresh[1]}, headers=auth), 409,
                       "conflict")  # fmt: skip
    stored = await users.find_one({"_id": ObjectId(acme.owner.id)})
    assert stored is not None and stored["mfa_recovery_codes"] == []
    assert "access_token" in await sign_in(client, email, OWNER_PASSWORD, tid)
    actions = await audit_actions(mongo_client, db_name, tid)
    assert actions.count("auth.mfa_recovery_code_used") == 4
    assert "user.mfa_recovery_codes_renewed" in actions
    shown = codes + fresh
    assert not any(code in line for code in shown for line in logs)
    async for entry in mongo_client[db_name]["audit_logs"].find({}):
        assert not any(code in str(entry) for code in shown)


async def test_recovery_codes_do_not_turn_mfa_on_and_a_new_setup_replaces_them(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    auth = await owner_headers(client, acme)
    first = (await client.post(f"{AUTH}/mfa/setup", headers=auth)).json()
    refused = await client.post(
        f"{AUTH}/mfa/enable", json={"code": first["recovery_codes"][0]}, headers=auth
    )
    assert_problem(refused, 401, "invalid_mfa_code")
    second = (await client.post(f"{AUTH}/mfa/setup", headers=auth)).json()
    assert not set(first["recovery_codes"]) & set(second["recovery_codes"])
    used: set[str] = set()
    code = unused_code(second["secret"], used)
    assert (
        await client.post(f"{AUTH}/mfa/enable", json={"code": code}, headers=auth)
    ).status_code == 204
    challenge = await sign_in(client, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)
    tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    verify = f"{AUTH}/mfa/verify"
    stale = await client.post(
        verify, json={"mfa_token": challenge["mfa_token"], "code": first["recovery_codes"][0]},
        headers=tenant,
    )  # fmt: skip
    assert_problem(stale, 401, "invalid_mfa_code")
    current = await client.post(
        verify, json={"mfa_token": challenge["mfa_token"], "code": second["recovery_codes"][0]},
        headers=tenant,
    )  # fmt: skip
    assert current.status_code == 200, current.text


async def test_a_platform_admin_uses_mfa_in_the_platform_plane(client: AppClient) -> None:
    tokens = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    setup = (await client.post(f"{AUTH}/mfa/setup", headers=auth)).json()
    assert unquote(setup["otpauth_uri"]).startswith(f"otpauth://totp/Parley:{ADMIN_EMAIL}")
    secret = setup["secret"]
    used: set[str] = set()
    code = unused_code(secret, used)
    enabled = await client.post(f"{AUTH}/mfa/enable", json={"code": code}, headers=auth)
    assert enabled.status_code == 204, enabled.text
    challenge = await sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD, None)
    assert challenge["mfa_required"] is True
    verified = await client.post(
        f"{AUTH}/mfa/verify",
        json={"mfa_token": challenge["mfa_token"], "code": unused_code(secret, used)},
    )
    assert verified.status_code == 200, verified.text
    # A recovery code in the platform plane, spent once.
    recovery = setup["recovery_codes"][0]
    for expected in (200, 401):
        challenge = await sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD, None)
        answer = await client.post(
            f"{AUTH}/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": recovery}
        )
        assert answer.status_code == expected, answer.text
    me = await client.get(f"{AUTH}/me", headers=auth)
    assert me.json()["mfa_recovery_codes_left"] == 9


async def test_code_guesses_are_limited_per_user(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.auth.sensitive_rate_per_ip = 3
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        auth = await owner_headers(http, acme)
        secret = (await http.post(f"{AUTH}/mfa/setup", headers=auth)).json()["secret"]
        statuses = [
            (
                await http.post(
                    f"{AUTH}/mfa/enable", json={"code": wrong_code(secret)}, headers=auth
                )
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        # The budget is spent even for the right code until the window passes.
        right = await http.post(
            f"{AUTH}/mfa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=auth
        )
        assert_problem(right, 429, "rate_limited")


async def test_an_admin_resets_the_mfa_of_a_user_who_lost_their_authenticator(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    tid = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    member, member_auth = await signed_in(client, acme, owner, "max@acme.example.com")
    _, agent_auth = await signed_in(client, acme, owner, "ann@acme.example.com", roles=["agent"])
    reset = f"/api/v1/users/{member['id']}/mfa/reset"
    assert_problem(await client.post(reset, headers=owner), 409, "conflict")  # MFA is off
    secret = (await client.post(f"{AUTH}/mfa/setup", headers=member_auth)).json()["secret"]
    enabled = await client.post(
        f"{AUTH}/mfa/enable", json={"code": unused_code(secret, set())}, headers=member_auth
    )
    assert enabled.status_code == 204, enabled.text
    challenge = await sign_in(client, "max@acme.example.com", MEMBER_PASSWORD, tid)
    assert challenge["mfa_required"] is True
    # Refusals: no token, no permission, yourself, another tenant's admin, unknown users.
    assert_problem(await client.post(reset, headers={"X-Tenant-ID": tid}), 401, "unauthorized")
    assert_problem(await client.post(reset, headers=agent_auth), 403, "forbidden")
    own = f"/api/v1/users/{acme.owner.id}/mfa/reset"
    assert_problem(await client.post(own, headers=owner), 403, "forbidden")
    beta_owner = await owner_headers(client, beta)
    assert_problem(await client.post(reset, headers=beta_owner), 404, "not_found")
    for missing in ("not-an-id", "0123456789abcdef01234567"):
        url = f"/api/v1/users/{missing}/mfa/reset"
        assert_problem(await client.post(url, headers=owner), 404, "not_found")
    assert (await client.get(f"{AUTH}/me", headers=member_auth)).status_code == 200

    done = await client.post(reset, headers=owner)
    assert done.status_code == 204, done.text
    stored = await mongo_client[db_name]["users"].find_one({"_id": ObjectId(member["id"])})
    assert stored is not None and stored["mfa_enabled"] is False and stored["mfa_secret"] is None
    assert stored["mfa_recovery_codes"] == []
    assert_problem(await client.get(f"{AUTH}/me", headers=member_auth), 401, "unauthorized")
    again = await sign_in(client, "max@acme.example.com", MEMBER_PASSWORD, tid)
    assert "access_token" in again and not again.get("mfa_required")
    assert "user.mfa_reset" in await audit_actions(mongo_client, db_name, tid)
