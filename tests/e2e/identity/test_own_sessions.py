"""`GET /auth/sessions` and ending sessions (ASVS 3.3.4): a user sees where and when each
of their live sign-ins started and ends one, or all but the current, with their password
again; ended sessions stop at once; nobody reaches another user's or tenant's sessions."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient, assert_problem
from tests.support.database import audit_actions
from tests.support.onboarding import OWNER_PASSWORD, admin_headers, onboard, owner_headers
from tests.support.people import MEMBER_PASSWORD, signed_in

AUTH = "/api/v1/auth"


async def sign_in(client: AppClient, email: str, password: str, tid: str, agent: str) -> Any:
    answer = await client.post(
        f"{AUTH}/login", json={"email": email, "password": password},
        headers={"X-Tenant-ID": tid, "User-Agent": agent},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    return tokens, {"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tid}


async def test_a_user_sees_their_sessions_and_ends_one_or_all_others(
    client: AppClient, mongo_client: Any, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid, email = acme.tenant.id or "", acme.owner.email
    laptop_tokens, laptop = await sign_in(client, email, OWNER_PASSWORD, tid, "Laptop/1.0")
    phone_tokens, phone = await sign_in(client, email, OWNER_PASSWORD, tid, "Phone/2.0")
    _, tablet = await sign_in(client, email, OWNER_PASSWORD, tid, "Tablet/3.0" + "x" * 400)

    listed = await client.get(f"{AUTH}/sessions", headers=laptop)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    agents = [i["user_agent"][:10] for i in items if i["user_agent"]]
    assert agents[:3] == ["Tablet/3.0", "Phone/2.0", "Laptop/1.0"]  # newest first
    assert [i["current"] for i in items[:3]] == [False, False, True]
    assert len(items[0]["user_agent"]) == 256 and items[0]["ip"]
    assert "current_hash" not in listed.text and laptop_tokens["refresh_token"] not in listed.text
    phone_id = items[1]["id"]

    # Refusals: no password, a wrong one, an unknown session, anonymous.
    end = f"{AUTH}/sessions/{phone_id}/end"
    assert_problem(await client.post(end, json={}, headers=laptop), 422, "invalid_input")
    wrong = await client.post(end, json={"password": "not-it-at-all"}, headers=laptop)
    assert_problem(wrong, 401, "unauthorized")
    unknown = await client.post(
        f"{AUTH}/sessions/nope/end", json={"password": OWNER_PASSWORD}, headers=laptop
    )
    assert_problem(unknown, 404, "not_found")
    anonymous = await client.post(
        end, json={"password": OWNER_PASSWORD}, headers={"X-Tenant-ID": tid}
    )
    assert_problem(anonymous, 401, "unauthorized")
    assert (await client.get(f"{AUTH}/me", headers=phone)).status_code == 200

    done = await client.post(end, json={"password": OWNER_PASSWORD}, headers=laptop)
    assert done.status_code == 204, done.text
    assert_problem(await client.get(f"{AUTH}/me", headers=phone), 401, "unauthorized")
    refreshed = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": phone_tokens["refresh_token"]},
        headers={"X-Tenant-ID": tid},
    )  # fmt: skip
    assert refreshed.status_code == 401, refreshed.text

    others = await client.post(
        f"{AUTH}/sessions/end-others", json={"password": OWNER_PASSWORD}, headers=laptop
    )
    assert others.status_code == 200 and others.json()["ended"] >= 1, others.text
    assert_problem(await client.get(f"{AUTH}/me", headers=tablet), 401, "unauthorized")
    left = (await client.get(f"{AUTH}/sessions", headers=laptop)).json()["items"]
    assert [i["current"] for i in left] == [True]
    assert "auth.sessions_ended" in await audit_actions(mongo_client, db_name, tid)


async def test_another_users_or_tenants_session_cannot_be_seen_or_ended(
    client: AppClient,
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    beta_owner = await owner_headers(client, beta)
    owner_session = (await client.get(f"{AUTH}/sessions", headers=owner)).json()["items"][0]
    for intruder, password in ((member, MEMBER_PASSWORD), (beta_owner, OWNER_PASSWORD)):
        seen = (await client.get(f"{AUTH}/sessions", headers=intruder)).json()["items"]
        assert owner_session["id"] not in {s["id"] for s in seen}
        ended = await client.post(
            f"{AUTH}/sessions/{owner_session['id']}/end", json={"password": password},
            headers=intruder,
        )  # fmt: skip
        assert_problem(ended, 404, "not_found")
    assert (await client.get(f"{AUTH}/me", headers=owner)).status_code == 200

    # An impersonating admin sees the sessions but ends none; an API key is no user.
    admin = await admin_headers(client)
    tid = acme.tenant.id or ""
    acting = await client.post(
        f"/api/v1/tenants/{tid}/impersonate", json={"user_id": acme.owner.id}, headers=admin
    )
    assert acting.status_code == 200, acting.text
    as_admin = {"Authorization": f"Bearer {acting.json()['access_token']}", "X-Tenant-ID": tid}
    shown = (await client.get(f"{AUTH}/sessions", headers=as_admin)).json()["items"]
    assert any(s["impersonated_by"] for s in shown)
    refused = await client.post(
        f"{AUTH}/sessions/end-others", json={"password": OWNER_PASSWORD}, headers=as_admin
    )
    assert_problem(refused, 403, "forbidden")
    key = await client.post(
        "/api/v1/api-keys", json={"name": "sync", "permissions": ["contacts:read"]},
        headers=owner,
    )  # fmt: skip
    as_key = {"X-API-Key": key.json()["key"], "X-Tenant-ID": tid}
    assert_problem(await client.get(f"{AUTH}/sessions", headers=as_key), 403, "forbidden")
