"""Security notices reach platform admins too: the platform's own mail goes through the
same outbox, worker job and mail server as a tenant's, under the `platform` key in the
tenant's place, dressed as the product's; no tenant reads it, and a notice to a tenant
user is queued in the user's tenant whoever acts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem
from tests.support.mfa import enable_mfa, unused_code
from tests.support.onboarding import admin_headers, onboard, owner_headers
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.smtp import Received, SmtpCapture

pytestmark = pytest.mark.usefixtures("worker")

AUTH = "/api/v1/auth"
NEW_PASSWORD = "a-new-platform-password-41"


async def mails(smtp: SmtpCapture, address: str, count: int) -> list[Received]:
    """The first `count` security notices to `address`, waiting for them (the worker
    sends them)."""
    for _ in range(600):
        notices = [
            mail
            for mail in smtp.to(address)
            if str(mail.message["Subject"]).startswith("Security notice")
        ]
        if len(notices) >= count:
            return notices
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} notices to {address}: {smtp.to(address)}")


async def outbox(mongo: MongoClient, db_name: str) -> list[dict[str, Any]]:
    cursor = mongo[db_name]["outbound_emails"].find({"template": "security_notice"}).sort("_id", 1)
    return [raw async for raw in cursor]


async def test_a_platform_admin_is_told_by_mail_as_the_product(
    client: AppClient, mongo_client: MongoClient, db_name: str, smtp: SmtpCapture
) -> None:
    acme = await onboard(client, "acme")
    auth = await admin_headers(client)
    used: set[str] = set()
    setup = await enable_mfa(client, auth, used)

    # A sign-in from a client none of the admin's sessions used: told once the code is in.
    agent = {"User-Agent": "Unknown/1.0 (elsewhere)"}
    challenge = await client.post(
        f"{AUTH}/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, headers=agent
    )
    assert challenge.status_code == 200 and challenge.json()["mfa_required"], challenge.text
    code = unused_code(setup["secret"], used)
    verified = await client.post(
        f"{AUTH}/mfa/verify",
        json={"mfa_token": challenge.json()["mfa_token"], "code": code},
        headers=agent,
    )
    assert verified.status_code == 200, verified.text
    changed = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth,
    )
    assert changed.status_code == 204, changed.text

    received = await mails(smtp, ADMIN_EMAIL, 3)
    assert {str(mail.message["Subject"]) for mail in received} == {
        "Security notice for your Parley account"
    }
    said = "\n".join(mail.text for mail in received)
    for change in (
        "Two-factor sign-in was turned on for your account.",
        "Someone signed in to your account from a new device.",
        "Your password was changed.",
    ):
        assert change in said
    assert "Unknown/1.0 (elsewhere)" in said
    # No reset link in the platform plane: the operator is who helps.
    assert said.count("ask the platform's operator to secure your account") == 3
    assert "Forgot password" not in said
    for secret in (setup["secret"], *setup["recovery_codes"], NEW_PASSWORD, ADMIN_PASSWORD):
        assert secret not in said

    # Stored under the platform's key, and in no tenant's outbox; marked sent (just after
    # the mail server took it).
    for _ in range(600):
        stored = [
            (raw["tenant_id"], raw["to"], raw["status"])
            for raw in await outbox(mongo_client, db_name)
        ]
        if stored == [("platform", ADMIN_EMAIL, "sent")] * 3:
            break
        await asyncio.sleep(0.05)
    assert stored == [("platform", ADMIN_EMAIL, "sent")] * 3
    # No request names the platform's key as its tenant.
    owner = await owner_headers(client, acme)
    refused = await client.get(f"{AUTH}/me", headers={**owner, "X-Tenant-ID": "platform"})
    assert_problem(refused, 400, "invalid_tenant")  # not even a tenant id's shape
    assert (await client.get(f"{AUTH}/me", headers=owner)).status_code == 200


async def test_a_tenant_users_notice_stays_in_their_tenant(
    client: AppClient, mongo_client: MongoClient, db_name: str, smtp: SmtpCapture
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    await enable_mfa(client, owner, set())
    [mail] = await mails(smtp, acme.owner.email, 1)
    assert str(mail.message["Subject"]) == "Security notice for your Acme account"
    assert '"Forgot password" on the sign-in page' in mail.text
    [stored] = await outbox(mongo_client, db_name)
    assert stored["tenant_id"] == acme.tenant.id
