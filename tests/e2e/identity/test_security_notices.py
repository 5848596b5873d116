"""Security notices by email when the way a user signs in changed: a password change,
two-factor sign-in turned on and off, a recovery code used, the sign-in email and phone
changed by an admin (the old address is told), the account deleted. Each notice is a
`security_notice` email in the user's tenant, naming what changed and never a secret."""

from __future__ import annotations

from typing import Any

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient
from tests.support.mfa import enable_mfa
from tests.support.onboarding import onboard, owner_headers
from tests.support.people import MEMBER_PASSWORD, USERS, signed_in

AUTH = "/api/v1/auth"


async def notices(mongo: MongoClient, db_name: str, tenant_id: str) -> list[dict[str, Any]]:
    cursor = (
        mongo[db_name]["outbound_emails"]
        .find({"template": "security_notice", "tenant_id": tenant_id})
        .sort("_id", 1)  # in the order they were queued (two may share a millisecond)
    )
    return [raw async for raw in cursor]


async def test_each_change_to_how_a_user_signs_in_is_told_to_them(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme, beta = await onboard(client, "acme"), await onboard(client, "beta")
    tid = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    max_user, member = await signed_in(client, acme, owner, "max@acme.example.com")
    used: set[str] = set()
    setup = await enable_mfa(client, member, used)
    recovery = setup["recovery_codes"][0]
    off = await client.post(f"{AUTH}/mfa/disable", json={"code": recovery}, headers=member)
    assert off.status_code == 204, off.text
    moved = await client.put(
        f"{USERS}/{max_user['id']}",
        json={"email": "max@new.example.com", "phone": "+16505550123"},
        headers=owner,
    )
    assert moved.status_code == 200, moved.text
    new_password = "another-password-77"
    changed = await client.post(
        f"{AUTH}/change-password",
        json={"current_password": "owner-password-1", "new_password": new_password},
        headers=owner,
    )
    assert changed.status_code == 204, changed.text

    sent = [(n["to"], n["context"]["change"]) for n in await notices(mongo_client, db_name, tid)]
    assert sent == [
        ("max@acme.example.com", "Two-factor sign-in was turned on for your account."),
        ("max@acme.example.com", "One of your two-factor recovery codes was used."),
        ("max@acme.example.com", "Two-factor sign-in was turned off for your account."),
        ("max@acme.example.com", "An administrator changed the email you sign in with."),
        ("max@new.example.com",
         "An administrator changed the phone number your sign-in codes go to."),
        (acme.owner.email, "Your password was changed."),
    ]  # fmt: skip
    everything = str(await notices(mongo_client, db_name, tid))
    for secret in (setup["secret"], recovery, new_password, MEMBER_PASSWORD):
        assert secret not in everything
    assert "It is now max@new.example.com." in everything
    assert await notices(mongo_client, db_name, beta.tenant.id or "") == []


async def test_a_deleted_account_is_told_at_its_address(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    owner = await owner_headers(client, acme)
    _, member = await signed_in(client, acme, owner, "max@acme.example.com")
    ann, _ = await signed_in(client, acme, owner, "ann@acme.example.com")
    gone = await client.post(
        f"{AUTH}/delete-account", json={"password": MEMBER_PASSWORD}, headers=member
    )
    assert gone.status_code == 204, gone.text
    removed = await client.delete(f"{USERS}/{ann['id']}", headers=owner)
    assert removed.status_code == 204, removed.text
    told = await notices(mongo_client, db_name, acme.tenant.id or "")
    assert [(n["to"], n["context"]["change"], n["context"]["detail"]) for n in told] == [
        ("max@acme.example.com", "Your account was deleted.", ""),
        ("ann@acme.example.com", "Your account was deleted.", "An administrator deleted it."),
    ]


async def test_a_sign_in_from_a_new_client_is_told_but_not_the_first_or_a_known_one(
    client: AppClient, mongo_client: MongoClient, db_name: str
) -> None:
    acme = await onboard(client, "acme")
    tid = acme.tenant.id or ""
    owner = await owner_headers(client, acme)
    await signed_in(client, acme, owner, "max@acme.example.com")  # the first: nothing

    async def sign_in_with(agent: str) -> None:
        answer = await client.post(
            f"{AUTH}/login", json={"email": "max@acme.example.com", "password": MEMBER_PASSWORD},
            headers={"X-Tenant-ID": tid, "User-Agent": agent},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text

    await sign_in_with(client.headers["user-agent"])  # the same client again: nothing
    assert await notices(mongo_client, db_name, tid) == []
    for _ in range(2):  # a new client once, then known
        await sign_in_with("Evil/6.6 (<b>)")
    [told] = await notices(mongo_client, db_name, tid)
    assert told["to"] == "max@acme.example.com"
    assert told["context"]["change"] == "Someone signed in to your account from a new device."
    assert "Evil/6.6 (<b>)" in told["context"]["detail"] and MEMBER_PASSWORD not in str(told)
