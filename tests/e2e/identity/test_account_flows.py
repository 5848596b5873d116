"""Sign-up, email verification, forgot/reset password, invitations and change-password."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import punq
from bson import ObjectId

from api.common.clock import utcnow
from api.domain.identity.auth import OneTimeTokens
from api.domain.identity.users import User, UserRepository
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem, captured_logs, serve
from tests.support.database import audit_actions
from tests.support.onboarding import OWNER_PASSWORD, login, onboard, owner_headers
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

AUTH = "/api/v1/auth"
NEW_PASSWORD = "a-brand-new-password-1"
MEMBER_PASSWORD = "member-password-1"


def tenant_header(tenant_id: str | None) -> dict[str, str]:
    return {"X-Tenant-ID": tenant_id or ""}


def bearer(tokens: dict[str, Any], tenant_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return {**headers, **tenant_header(tenant_id)} if tenant_id else headers


async def set_signup(
    mongo: MongoClient, db_name: str, tenant_id: str | None, *, open: bool, verify: bool
) -> None:
    await mongo[db_name]["tenants"].update_one(
        {"_id": ObjectId(tenant_id)},
        {
            "$set": {
                "signup_mode": "open" if open else "invite_only",
                "require_email_verification": verify,
            }
        },
    )


async def emails_to(mongo: MongoClient, db_name: str, to: str) -> list[dict[str, Any]]:
    cursor = mongo[db_name]["outbound_emails"].find({"to": to}).sort("created_at", 1)
    return [raw async for raw in cursor]


def token_in(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def last_token(mongo: MongoClient, db_name: str, to: str, template: str, field: str) -> str:
    matching = [e for e in await emails_to(mongo, db_name, to) if e["template"] == template]
    assert matching, f"no {template} email to {to}"
    return token_in(matching[-1]["context"][field])


# -- register ------------------------------------------------------------------------------


async def test_open_signup_without_verification_creates_an_active_member(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id
    await set_signup(mongo_client, db_name, tid, open=True, verify=False)
    body = {"email": " Mia@Acme.example.com", "password": MEMBER_PASSWORD, "full_name": "Mia  M"}
    response = await client.post(f"{AUTH}/register", json=body, headers=tenant_header(tid))
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "mia@acme.example.com" and user["full_name"] == "Mia M"
    assert user["is_active"] is True and user["email_verified"] is False
    assert user["tenant_id"] == tid and [r["name"] for r in user["roles"]] == ["member"]
    assert "password" not in response.text
    tokens = await login(client, "mia@acme.example.com", MEMBER_PASSWORD, tid)
    me = (await client.get(f"{AUTH}/me", headers=bearer(tokens, tid))).json()
    assert set(me["permissions"]) == {"ai:use", "files:read", "files:write"}
    [welcome] = await emails_to(mongo_client, db_name, "mia@acme.example.com")
    assert welcome["template"] == "welcome" and welcome["tenant_id"] == tid
    assert "user.registered" in await audit_actions(mongo_client, db_name, tid)


async def test_signup_is_refused_unless_the_tenant_is_open(client: AppClient) -> None:
    acme = await onboard(client, "acme")  # invite-only by default
    body = {"email": "mia@acme.example.com", "password": MEMBER_PASSWORD, "full_name": "Mia"}
    refused = await client.post(
        f"{AUTH}/register", json=body, headers=tenant_header(acme.tenant.id)
    )
    assert "invite" in assert_problem(refused, 403, "forbidden")["detail"]
    platform = await client.post(f"{AUTH}/register", json=body)  # no tenant named
    assert_problem(platform, 400, "tenant_required")


async def test_signup_input_rules(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    headers = tenant_header(acme.tenant.id)
    await set_signup(mongo_client, db_name, acme.tenant.id, open=True, verify=False)
    good = {"email": "mia@acme.example.com", "password": MEMBER_PASSWORD, "full_name": "Mia"}
    cases = [
        ({**good, "password": "short"}, "password"),
        ({**good, "password": "mia@acme.example.com"}, "password"),
        ({**good, "email": "not-an-address"}, "email"),
        ({**good, "full_name": "   "}, "full_name"),
    ]
    for body, field in cases:
        problem = assert_problem(
            await client.post(f"{AUTH}/register", json=body, headers=headers), 422, "invalid_input"
        )
        assert [e["loc"][-1] for e in problem["errors"]] == [field]
    missing = await client.post(f"{AUTH}/register", json={"email": "x@y.co"}, headers=headers)
    assert_problem(missing, 422, "invalid_input")
    assert (await client.post(f"{AUTH}/register", json=good, headers=headers)).status_code == 201
    for taken in ("MIA@acme.example.com", acme.owner.email):
        again = await client.post(
            f"{AUTH}/register", json={**good, "email": taken}, headers=headers
        )
        assert_problem(again, 409, "conflict")


async def test_signup_is_rate_limited_per_ip(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.auth.sensitive_rate_per_ip = 2
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        await set_signup(mongo_client, db_name, acme.tenant.id, open=True, verify=False)
        statuses = []
        for n in range(3):
            body = {
                "email": f"u{n}@acme.example.com",
                "password": MEMBER_PASSWORD,
                "full_name": "U",
            }
            response = await http.post(
                f"{AUTH}/register", json=body, headers=tenant_header(acme.tenant.id)
            )
            statuses.append(response.status_code)
        assert statuses == [201, 201, 429]
        assert int(response.headers["retry-after"]) >= 1


# -- email verification --------------------------------------------------------------------


async def test_a_pending_signup_cannot_sign_in_until_the_address_is_verified(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, headers = acme.tenant.id, tenant_header(acme.tenant.id)
    await set_signup(mongo_client, db_name, tid, open=True, verify=True)
    body = {"email": "mia@acme.example.com", "password": MEMBER_PASSWORD, "full_name": "Mia"}
    created = await client.post(f"{AUTH}/register", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["is_active"] is False and created.json()["email_verified"] is False
    # The right password answers exactly like a wrong one: nothing is revealed.
    for password in (MEMBER_PASSWORD, "wrong-password-1"):
        refused = await client.post(
            f"{AUTH}/login", json={"email": body["email"], "password": password}, headers=headers
        )
        assert assert_problem(refused, 401, "unauthorized")["detail"] == (
            "Invalid email or password."
        )
    [mail] = await emails_to(mongo_client, db_name, body["email"])
    assert mail["template"] == "verify_email" and mail["context"]["expires_minutes"] == 2880
    token = token_in(mail["context"]["verify_url"])
    verified = await client.post(f"{AUTH}/verify-email", json={"token": token}, headers=headers)
    assert verified.status_code == 204, verified.text
    tokens = await login(client, body["email"], MEMBER_PASSWORD, tid)
    me = (await client.get(f"{AUTH}/me", headers=bearer(tokens, tid))).json()
    assert me["email_verified"] is True and me["is_active"] is True
    again = await client.post(f"{AUTH}/verify-email", json={"token": token}, headers=headers)
    assert_problem(again, 400, "invalid_token")
    garbage = await client.post(f"{AUTH}/verify-email", json={"token": "nope"}, headers=headers)
    assert_problem(garbage, 400, "invalid_token")
    assert_problem(
        await client.post(f"{AUTH}/verify-email", json={}, headers=headers), 422, "invalid_input"
    )
    assert "user.email_verified" in await audit_actions(mongo_client, db_name, tid)


async def test_resend_verification_answers_the_same_and_replaces_the_link(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, headers = acme.tenant.id, tenant_header(acme.tenant.id)
    await set_signup(mongo_client, db_name, tid, open=True, verify=True)
    email = "mia@acme.example.com"
    body = {"email": email, "password": MEMBER_PASSWORD, "full_name": "Mia"}
    assert (await client.post(f"{AUTH}/register", json=body, headers=headers)).status_code == 201
    first = await last_token(mongo_client, db_name, email, "verify_email", "verify_url")
    answers = [
        await client.post(f"{AUTH}/resend-verification", json={"email": who}, headers=headers)
        for who in (email, "ghost@acme.example.com", acme.owner.email)
    ]
    assert {r.status_code for r in answers} == {202}
    assert len({r.text for r in answers}) == 1
    second = await last_token(mongo_client, db_name, email, "verify_email", "verify_url")
    assert second != first
    assert await emails_to(mongo_client, db_name, "ghost@acme.example.com") == []
    old = await client.post(f"{AUTH}/verify-email", json={"token": first}, headers=headers)
    assert_problem(old, 400, "invalid_token")
    new = await client.post(f"{AUTH}/verify-email", json={"token": second}, headers=headers)
    assert new.status_code == 204
    # A verified address gets no more links.
    await client.post(f"{AUTH}/resend-verification", json={"email": email}, headers=headers)
    assert len(await emails_to(mongo_client, db_name, email)) == 2


async def test_a_verification_link_of_one_tenant_is_refused_in_another(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    await set_signup(mongo_client, db_name, acme.tenant.id, open=True, verify=True)
    body = {"email": "mia@acme.example.com", "password": MEMBER_PASSWORD, "full_name": "Mia"}
    await client.post(f"{AUTH}/register", json=body, headers=tenant_header(acme.tenant.id))
    token = await last_token(mongo_client, db_name, body["email"], "verify_email", "verify_url")
    crossed = await client.post(
        f"{AUTH}/verify-email", json={"token": token}, headers=tenant_header(beta.tenant.id)
    )
    assert_problem(crossed, 400, "invalid_token")


async def test_a_deactivated_account_cannot_reactivate_itself_by_verifying(
    client: AppClient, container: punq.Container, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")  # the owner's address is not verified
    tid, owner = acme.tenant.id or "", acme.owner
    headers = tenant_header(tid)
    with tenant_context(TenantId(tid)):
        await container.resolve(UserRepository).update(owner.id or "", {"is_active": False})
        old_link = await container.resolve(OneTimeTokens).issue(
            purpose="email_verification", user_id=owner.id or "", tenant_id=tid, ttl_seconds=600
        )
    resent = await client.post(
        f"{AUTH}/resend-verification", json={"email": owner.email}, headers=headers
    )
    assert resent.status_code == 202
    assert await emails_to(mongo_client, db_name, owner.email) == []
    verified = await client.post(f"{AUTH}/verify-email", json={"token": old_link}, headers=headers)
    assert verified.status_code == 204
    stored = await mongo_client[db_name]["users"].find_one({"_id": ObjectId(owner.id)})
    assert stored is not None and stored["email_verified"] is True
    assert stored["is_active"] is False
    refused = await client.post(
        f"{AUTH}/login", json={"email": owner.email, "password": OWNER_PASSWORD}, headers=headers
    )
    assert_problem(refused, 401, "unauthorized")


# -- forgot and reset ----------------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    headers = tenant_header(acme.tenant.id)
    known = await client.post(
        f"{AUTH}/forgot-password", json={"email": acme.owner.email.upper()}, headers=headers
    )
    unknown = await client.post(
        f"{AUTH}/forgot-password", json={"email": "ghost@acme.example.com"}, headers=headers
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() and known.json()["detail"]
    assert await emails_to(mongo_client, db_name, "ghost@acme.example.com") == []
    [mail] = await emails_to(mongo_client, db_name, acme.owner.email)
    assert mail["template"] == "password_reset" and mail["tenant_id"] == acme.tenant.id
    assert mail["context"]["expires_minutes"] == 30
    assert mail["context"]["user_name"] == acme.owner.full_name
    url = mail["context"]["reset_url"]
    assert url.startswith("http://127.0.0.1:8000/reset-password?token=")
    token = token_in(url)
    stored = await mongo_client[db_name]["one_time_tokens"].find_one({"purpose": "password_reset"})
    assert stored is not None and token not in str(stored)  # hashed at rest
    async for entry in mongo_client[db_name]["audit_logs"].find({}):
        assert token not in str(entry)
    actions = await audit_actions(mongo_client, db_name, acme.tenant.id)
    assert actions.count("auth.password_reset_requested") == 2
    assert_problem(
        await client.post(f"{AUTH}/forgot-password", json={}, headers=headers), 422, "invalid_input"
    )


async def test_reset_works_once_and_ends_every_session(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, headers = acme.tenant.id, tenant_header(acme.tenant.id)
    email = acme.owner.email
    sessions = [await login(client, email, OWNER_PASSWORD, tid) for _ in range(2)]
    with captured_logs() as logs:
        await client.post(f"{AUTH}/forgot-password", json={"email": email}, headers=headers)
        token = await last_token(mongo_client, db_name, email, "password_reset", "reset_url")
        reset = await client.post(
            f"{AUTH}/reset-password",
            json={"token": token, "new_password": NEW_PASSWORD},
            headers=headers,
        )
    assert reset.status_code == 204, reset.text
    assert any("/reset-password" in line for line in logs)  # the capture works
    assert not any(token in line or NEW_PASSWORD in line for line in logs)
    for old in sessions:
        assert_problem(
            await client.get(f"{AUTH}/me", headers=bearer(old, tid)), 401, "unauthorized"
        )
        refreshed = await client.post(
            f"{AUTH}/refresh", json={"refresh_token": old["refresh_token"]}, headers=headers
        )
        assert_problem(refreshed, 401, "unauthorized")
    stale = await client.post(
        f"{AUTH}/login", json={"email": email, "password": OWNER_PASSWORD}, headers=headers
    )
    assert_problem(stale, 401, "unauthorized")
    fresh = await login(client, email, NEW_PASSWORD, tid)  # a new sign-in at once works
    assert (await client.get(f"{AUTH}/me", headers=bearer(fresh, tid))).status_code == 200
    again = await client.post(
        f"{AUTH}/reset-password",
        json={"token": token, "new_password": "yet-another-password-1"},
        headers=headers,
    )
    assert assert_problem(again, 400, "invalid_token")["detail"]
    assert "auth.password_reset" in await audit_actions(mongo_client, db_name, tid)


async def test_a_weak_new_password_is_422_and_does_not_spend_the_link(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    headers, email = tenant_header(acme.tenant.id), acme.owner.email
    await client.post(f"{AUTH}/forgot-password", json={"email": email}, headers=headers)
    token = await last_token(mongo_client, db_name, email, "password_reset", "reset_url")
    weak = await client.post(
        f"{AUTH}/reset-password", json={"token": token, "new_password": "short"}, headers=headers
    )
    problem = assert_problem(weak, 422, "invalid_input")
    assert problem["errors"][0]["loc"] == ["new_password"]
    ok = await client.post(
        f"{AUTH}/reset-password",
        json={"token": token, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert ok.status_code == 204


async def test_expired_garbage_and_foreign_reset_tokens_are_invalid(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    acme_headers, email = tenant_header(acme.tenant.id), acme.owner.email
    tokens = mongo_client[db_name]["one_time_tokens"]

    async def fresh_token() -> str:
        await client.post(f"{AUTH}/forgot-password", json={"email": email}, headers=acme_headers)
        return await last_token(mongo_client, db_name, email, "password_reset", "reset_url")

    async def reset(token: str, headers: dict[str, str]) -> httpx.Response:
        body = {"token": token, "new_password": NEW_PASSWORD}
        return await client.post(f"{AUTH}/reset-password", json=body, headers=headers)

    expired = await fresh_token()
    await tokens.update_many({}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    assert_problem(await reset(expired, acme_headers), 400, "invalid_token")
    assert_problem(await reset("not-a-real-token", acme_headers), 400, "invalid_token")
    foreign = await fresh_token()
    assert_problem(await reset(foreign, tenant_header(beta.tenant.id)), 400, "invalid_token")
    # Presented in the wrong tenant, the link is spent all the same (fail closed).
    assert_problem(await reset(foreign, acme_headers), 400, "invalid_token")
    await login(client, email, OWNER_PASSWORD, acme.tenant.id)  # nothing changed
    # The platform plane has no reset flow.
    platform = await client.post(
        f"{AUTH}/reset-password", json={"token": foreign, "new_password": NEW_PASSWORD}
    )
    assert_problem(platform, 400, "tenant_required")


async def test_reset_clears_a_sign_in_lockout(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.auth.lockout_threshold = 2
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        headers, email = tenant_header(acme.tenant.id), acme.owner.email
        wrong = {"email": email, "password": "wrong-password-1"}
        for _ in range(2):
            await http.post(f"{AUTH}/login", json=wrong, headers=headers)
        locked = await http.post(
            f"{AUTH}/login", json={"email": email, "password": OWNER_PASSWORD}, headers=headers
        )
        assert_problem(locked, 429, "rate_limited")
        await http.post(f"{AUTH}/forgot-password", json={"email": email}, headers=headers)
        token = await last_token(mongo_client, db_name, email, "password_reset", "reset_url")
        reset = await http.post(
            f"{AUTH}/reset-password",
            json={"token": token, "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert reset.status_code == 204
        await login(http, email, NEW_PASSWORD, acme.tenant.id)


async def test_forgot_password_is_limited_per_address_known_or_not(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    settings = make_settings(mongo_url, redis_url, db_name, tenant_cache_ttl_seconds=0)
    settings.auth.sensitive_rate_per_ip = 100  # the per-IP limit is not what is tested
    async with serve(settings) as http:
        acme = await onboard(http, "acme")
        headers = tenant_header(acme.tenant.id)
        for email in (acme.owner.email, "ghost@acme.example.com"):
            responses = [
                await http.post(f"{AUTH}/forgot-password", json={"email": email}, headers=headers)
                for _ in range(6)
            ]
            assert [r.status_code for r in responses] == [202] * 5 + [429]
            assert int(responses[-1].headers["retry-after"]) > 60


async def test_an_invited_user_sets_a_first_password_with_the_invitation_link(
    client: AppClient, container: punq.Container, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id or ""
    now = utcnow()
    with tenant_context(TenantId(tid)):
        invited = await container.resolve(UserRepository).add(
            User(
                tenant_id=tid,
                email="ivy@acme.example.com",
                full_name="Ivy",
                created_at=now,
                updated_at=now,
            )
        )
        token = await container.resolve(OneTimeTokens).issue(
            purpose="invitation", user_id=invited.id or "", tenant_id=tid, ttl_seconds=600
        )
    accepted = await client.post(
        f"{AUTH}/reset-password",
        json={"token": token, "new_password": NEW_PASSWORD},
        headers=tenant_header(tid),
    )
    assert accepted.status_code == 204, accepted.text
    tokens = await login(client, "ivy@acme.example.com", NEW_PASSWORD, tid)
    me = (await client.get(f"{AUTH}/me", headers=bearer(tokens, tid))).json()
    assert me["email_verified"] is True
    assert "user.invitation_accepted" in await audit_actions(mongo_client, db_name, tid)


# -- change password -----------------------------------------------------------------------


async def test_change_password_ends_every_session_including_this_one(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id, acme.owner.email
    other = await login(client, email, OWNER_PASSWORD, tid)
    auth = await owner_headers(client, acme)
    url = f"{AUTH}/change-password"
    wrong = await client.post(
        url, json={"current_password": "not-it-at-all", "new_password": NEW_PASSWORD}, headers=auth
    )
    assert assert_problem(wrong, 401, "unauthorized")["detail"] == (
        "The current password is not correct."
    )
    for new, msg in (("short", "at least"), (OWNER_PASSWORD, "differ")):
        weak = await client.post(
            url, json={"current_password": OWNER_PASSWORD, "new_password": new}, headers=auth
        )
        problem = assert_problem(weak, 422, "invalid_input")
        assert (
            problem["errors"][0]["loc"] == ["new_password"] and msg in problem["errors"][0]["msg"]
        )
    changed = await client.post(
        url, json={"current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD}, headers=auth
    )
    assert changed.status_code == 204, changed.text
    assert_problem(await client.get(f"{AUTH}/me", headers=auth), 401, "unauthorized")
    assert_problem(await client.get(f"{AUTH}/me", headers=bearer(other, tid)), 401, "unauthorized")
    refreshed = await client.post(
        f"{AUTH}/refresh",
        json={"refresh_token": other["refresh_token"]},
        headers=tenant_header(tid),
    )
    assert_problem(refreshed, 401, "unauthorized")
    await login(client, email, NEW_PASSWORD, tid)
    actions = await audit_actions(mongo_client, db_name, tid)
    assert "user.password_changed" in actions and "user.password_change_failed" in actions
    anonymous = await client.post(
        url,
        json={"current_password": NEW_PASSWORD, "new_password": "x" * 20},
        headers=tenant_header(tid),
    )
    assert_problem(anonymous, 401, "unauthorized")


async def test_a_platform_admin_changes_their_password(client: AppClient) -> None:
    tokens = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    changed = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(tokens),
    )
    assert changed.status_code == 204, changed.text
    assert_problem(await client.get(f"{AUTH}/me", headers=bearer(tokens)), 401, "unauthorized")
    await login(client, ADMIN_EMAIL, NEW_PASSWORD)
