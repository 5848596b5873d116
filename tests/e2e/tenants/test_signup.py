"""Self-service sign-up through the session's real worker and SMTP test server: sign up,
confirm the email, a platform admin approves (or rejects), the owner is told and signs
in; auto-approval; what a pending tenant serves (nothing); the subdomain and input rules;
who may decide (platform admins only) and deciding twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from api.config import SignupSettings
from api.infrastructure.persistence.base.mongo import MongoClient
from api.usecases.identity.platform_admins import PlatformAdmins
from tests.support.app import AppClient, assert_problem, serve
from tests.support.database import audit_actions
from tests.support.onboarding import admin_headers, login, onboard, owner_headers
from tests.support.settings import ADMIN_EMAIL, make_settings
from tests.support.smtp import Received, SmtpCapture

pytestmark = pytest.mark.usefixtures("worker")

SIGNUP = "/api/v1/signup"
TENANTS = "/api/v1/tenants"
EMAIL = "founder@acme.example.com"
PASSWORD = "founder-password-1"
FORM = {
    "company": "Acme Jewellers",
    "subdomain": "acme",
    "email": "Founder@Acme.example.com",
    "password": PASSWORD,
    "full_name": "Fay Founder",
}


@asynccontextmanager
async def app_with(
    mongo_url: str, redis_url: str, db_name: str, **signup: Any
) -> AsyncIterator[AppClient]:
    settings = make_settings(mongo_url, redis_url, db_name)
    chosen = SignupSettings(_env_file=None, **signup)
    async with serve(settings.model_copy(update={"signup": chosen})) as client:
        yield client


async def sign_up(client: AppClient, **changes: Any) -> None:
    response = await client.post(SIGNUP, json={**FORM, **changes})
    assert response.status_code == 202, response.text


async def the_tenant(client: AppClient, admin: dict[str, str], status: str) -> dict[str, Any]:
    listed = await client.get(TENANTS, params={"status": status}, headers=admin)
    assert listed.status_code == 200, listed.text
    [tenant] = listed.json()["items"]
    return dict(tenant)


async def confirm(client: AppClient, smtp: SmtpCapture) -> None:
    [mail] = await smtp.wait_for(EMAIL)
    match = re.search(r"/signup/verify\?token=([A-Za-z0-9_\-]+)", mail.text)
    assert match, mail.text
    verified = await client.post(f"{SIGNUP}/verify", json={"token": match.group(1)})
    assert verified.status_code == 204, verified.text
    again = await client.post(f"{SIGNUP}/verify", json={"token": match.group(1)})
    assert_problem(again, 400, "invalid_token")


async def mail_with(smtp: SmtpCapture, subject: str) -> Received:
    """The last mail to the founder with this subject, waiting for it."""
    for _ in range(400):
        mails = [m for m in smtp.to(EMAIL) if m.message["Subject"] == subject]
        if mails:
            return mails[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail '{subject}' to {EMAIL}")


async def test_sign_up_confirm_approve_then_the_owner_signs_in(
    client: AppClient, smtp: SmtpCapture, mongo_client: MongoClient, db_name: str
) -> None:
    await sign_up(client)
    admin = await admin_headers(client)
    pending = await the_tenant(client, admin, "pending")
    tid = pending["id"]
    assert pending["name"] == "Acme Jewellers" and pending["subdomain"] == "acme"

    served = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": tid})
    assert "approval" in assert_problem(served, 403, "tenant_pending")["detail"]
    refused = await client.post(
        "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD},
        headers={"X-Tenant-ID": tid},
    )  # fmt: skip
    assert_problem(refused, 403, "tenant_pending")
    early = await client.post(f"{TENANTS}/{tid}/approve", headers=admin)
    assert "confirmed" in assert_problem(early, 409, "conflict")["detail"]

    await confirm(client, smtp)
    assert (await the_tenant(client, admin, "pending"))["id"] == tid  # still waiting
    approved = await client.post(f"{TENANTS}/{tid}/approve", headers=admin)
    assert approved.status_code == 200 and approved.json()["status"] == "active", approved.text
    twice = await client.post(f"{TENANTS}/{tid}/approve", headers=admin)
    assert_problem(twice, 409, "conflict")
    rejected_after = await client.post(f"{TENANTS}/{tid}/reject", headers=admin)
    assert_problem(rejected_after, 409, "conflict")

    told = await mail_with(smtp, "Acme Jewellers is approved")
    assert "you can sign in now" in told.text
    tokens = await login(client, EMAIL, PASSWORD, tid)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "X-Tenant-ID": tid}
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert [r["name"] for r in me["roles"]] == ["owner"] and me["email_verified"] is True
    entries = {
        raw["action"]: raw
        async for raw in mongo_client[db_name]["audit_logs"].find({"tenant_id": tid})
    }
    assert entries["tenant.signed_up"]["actor_id"] == me["id"]  # the new owner
    assert entries["user.email_verified"]["actor_id"] == me["id"]
    admin_me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    assert entries["tenant.approved"]["actor_id"] == admin_me["id"]
    assert PASSWORD not in str([raw async for raw in mongo_client[db_name]["audit_logs"].find()])


async def test_a_rejected_sign_up_is_told_and_serves_nothing(
    client: AppClient, smtp: SmtpCapture, mongo_client: MongoClient, db_name: str
) -> None:
    await sign_up(client)
    admin = await admin_headers(client)
    tid = (await the_tenant(client, admin, "pending"))["id"]
    rejected = await client.post(
        f"{TENANTS}/{tid}/reject", json={"reason": "Not a jeweller"}, headers=admin
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert_problem(await client.post(f"{TENANTS}/{tid}/reject", headers=admin), 409, "conflict")
    assert_problem(await client.post(f"{TENANTS}/{tid}/approve", headers=admin), 409, "conflict")
    reactivate = await client.put(f"{TENANTS}/{tid}", json={"status": "active"}, headers=admin)
    assert_problem(reactivate, 409, "conflict")  # not through the back door either
    told = await mail_with(smtp, "Your sign-up of Acme Jewellers was not approved")
    assert "Reason: Not a jeweller" in told.text
    served = await client.get("/api/v1/tenant", headers={"X-Tenant-ID": tid})
    assert_problem(served, 403, "tenant_suspended")
    assert "tenant.rejected" in await audit_actions(mongo_client, db_name, tid)
    taken = await client.post(SIGNUP, json=FORM)  # the subdomain stays taken
    assert_problem(taken, 409, "conflict")


async def test_auto_approval_activates_on_confirmation(
    mongo_url: str, redis_url: str, db_name: str, smtp: SmtpCapture
) -> None:
    async with app_with(mongo_url, redis_url, db_name, auto_approve=True) as client:
        await sign_up(client)
        admin = await admin_headers(client)
        tid = (await the_tenant(client, admin, "pending"))["id"]
        await confirm(client, smtp)
        assert (await the_tenant(client, admin, "active"))["id"] == tid
        await mail_with(smtp, "Acme Jewellers is approved")
        await login(client, EMAIL, PASSWORD, tid)


async def test_only_platform_admins_decide(client: AppClient) -> None:
    await sign_up(client)
    admin = await admin_headers(client)
    tid = (await the_tenant(client, admin, "pending"))["id"]
    globex = await onboard(client, "globex")
    owner = await owner_headers(client, globex)
    for path in ("approve", "reject"):
        assert_problem(
            await client.post(f"{TENANTS}/{tid}/{path}", headers=owner), 403, "forbidden"
        )
        assert_problem(await client.post(f"{TENANTS}/{tid}/{path}"), 401, "unauthorized")
    listed = await client.get(TENANTS, params={"status": "pending"}, headers=owner)
    assert_problem(listed, 403, "forbidden")
    unknown = await client.post(f"{TENANTS}/{'0' * 24}/approve", headers=admin)
    assert_problem(unknown, 404, "not_found")
    created = await client.post(f"{TENANTS}/{globex.tenant.id}/approve", headers=admin)
    assert_problem(created, 409, "conflict")  # an admin-made tenant is not pending
    by_hand = await client.put(
        f"{TENANTS}/{globex.tenant.id}", json={"status": "pending", "name": "G"}, headers=admin
    )
    assert_problem(by_hand, 422, "invalid_input")
    assert (await client.get(f"{TENANTS}/{globex.tenant.id}", headers=admin)).json()["name"] == (
        "Globex"
    )


async def test_subdomain_and_input_rules(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    async with app_with(mongo_url, redis_url, db_name, rate_per_ip=100) as client:
        await onboard(client, "acme")
        assert_problem(await client.post(SIGNUP, json=FORM), 409, "conflict")
        cases = [
            ({"subdomain": "admin"}, "subdomain"),
            ({"subdomain": "Not A Label"}, "subdomain"),
            ({"email": "not-an-address"}, "email"),
            ({"password": "short"}, "password"),
            ({"password": "founder@acme.example.com"}, "password"),
            ({"company": "   "}, "company"),
            ({"full_name": "  "}, "full_name"),
        ]
        for changes, field in cases:
            body = {**FORM, "subdomain": "fresh", **changes}
            problem = assert_problem(await client.post(SIGNUP, json=body), 422, "invalid_input")
            assert [e["loc"][-1] for e in problem["errors"]] == [field], problem
        missing = await client.post(SIGNUP, json={"company": "X"})
        assert_problem(missing, 422, "invalid_input")
        extra = await client.post(SIGNUP, json={**FORM, "subdomain": "fresh", "plan": "gold"})
        assert_problem(extra, 422, "invalid_input")
        await sign_up(client, subdomain="trap", website="http://spam.example")  # honeypot
        assert await mongo_client[db_name]["tenants"].count_documents({}) == 1  # acme only


async def test_sign_up_is_limited_per_ip_and_can_be_switched_off(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    async with app_with(mongo_url, redis_url, db_name, rate_per_ip=2) as client:
        await sign_up(client, subdomain="one")
        await sign_up(client, subdomain="two")
        limited = await client.post(SIGNUP, json={**FORM, "subdomain": "three"})
        assert_problem(limited, 429, "rate_limited")
    async with app_with(mongo_url, redis_url, db_name, enabled=False) as client:
        off = await client.post(SIGNUP, json={**FORM, "subdomain": "four"})
        assert_problem(off, 404, "not_found")


async def review_requests(mongo: MongoClient, db_name: str) -> list[tuple[str, str]]:
    """The queued review requests: (tenant key, address), as stored when the verification
    answered."""
    cursor = mongo[db_name]["outbound_emails"].find({"template": "signup_awaiting_review"})
    return sorted([(raw["tenant_id"], raw["to"]) async for raw in cursor])


async def test_platform_admins_are_told_when_a_confirmed_sign_up_awaits_review(
    client: AppClient, smtp: SmtpCapture, mongo_client: MongoClient, db_name: str
) -> None:
    admins = client.container.resolve(PlatformAdmins)
    await admins.add("ops@example.com", "Olu Ops", "ops-first-password-58")
    await admins.add("gone@example.com", "Gil Gone", "gone-first-password-58")
    await admins.set_active("gone@example.com", False)
    await sign_up(client)
    assert await review_requests(mongo_client, db_name) == []  # not before the confirmation

    await confirm(client, smtp)
    # Every active platform admin, as the platform's own mail; not the deactivated one.
    assert await review_requests(mongo_client, db_name) == [
        ("platform", "ops@example.com"), ("platform", ADMIN_EMAIL)
    ]  # fmt: skip
    for address, name in ((ADMIN_EMAIL, "Platform admin"), ("ops@example.com", "Olu Ops")):
        [told] = await smtp.wait_for(address)
        assert told.message["Subject"] == "Sign-up awaiting review: Acme Jewellers (acme)"
        text = told.text
        assert f"Hi {name}," in text and "Fay Founder <founder@acme.example.com>" in text
        assert PASSWORD not in text


async def test_auto_approval_asks_no_one_to_review(
    mongo_url: str, redis_url: str, db_name: str, smtp: SmtpCapture, mongo_client: MongoClient
) -> None:
    async with app_with(mongo_url, redis_url, db_name, auto_approve=True) as client:
        await sign_up(client)
        await confirm(client, smtp)
        await mail_with(smtp, "Acme Jewellers is approved")
    assert await review_requests(mongo_client, db_name) == []
