"""New passwords checked against a breach corpus (Have I Been Pwned's range API, here a
local server speaking its format) wherever one is set over HTTP: registration, an admin
creating a user, a change of password, a new tenant's owner, self-service sign-up. A
breached password is 422 on its field and nothing is stored; when the corpus cannot be
reached, the password is accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from bson import ObjectId

from api.infrastructure.persistence.base.mongo import MongoClient
from tests.support.app import AppClient, assert_problem, serve
from tests.support.fake_pwned import FakePwned, serve_fake_pwned, sha1_upper
from tests.support.onboarding import OWNER_PASSWORD, admin_headers, onboard, owner_headers
from tests.support.settings import make_settings

BREACHED = "Password123!"  # a long-known one
FRESH = "a-fresh-passphrase-91"


@asynccontextmanager
async def app_checking(
    mongo_url: str, redis_url: str, db_name: str, fake: FakePwned
) -> AsyncIterator[AppClient]:
    async with serve_fake_pwned(fake) as url:
        settings = make_settings(mongo_url, redis_url, db_name)
        settings.auth.breached_password_check = "hibp"
        settings.auth.breached_password_api_url = url
        async with serve(settings) as client:
            yield client


def assert_breached(response: httpx.Response, field: str) -> None:
    body = assert_problem(response, 422, "invalid_input")
    assert any(field in map(str, e["loc"]) and "breach" in e["msg"] for e in body["errors"]), body
    assert BREACHED not in str(body)


async def test_breached_passwords_are_refused_wherever_one_is_set(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    fake = FakePwned(breached={BREACHED: 259_000})
    async with app_checking(mongo_url, redis_url, db_name, fake) as client:
        admin = await admin_headers(client)
        tenant = {"name": "Beta", "subdomain": "beta", "owner_email": "bo@beta.example.com",
                  "owner_full_name": "Bo Beta"}  # fmt: skip
        refused = await client.post(
            "/api/v1/tenants", json={**tenant, "owner_password": BREACHED}, headers=admin
        )
        assert_breached(refused, "password")
        assert await mongo_client[db_name]["tenants"].count_documents({}) == 0

        acme = await onboard(client, "acme")  # its owner's password is not breached
        tid = acme.tenant.id or ""
        owner = await owner_headers(client, acme)
        person = {"email": "max@acme.example.com", "full_name": "Max"}
        created = await client.post(
            "/api/v1/users", json={**person, "password": BREACHED}, headers=owner
        )
        assert_breached(created, "password")
        await mongo_client[db_name]["tenants"].update_one(
            {"_id": ObjectId(tid)}, {"$set": {"signup_mode": "open"}}
        )
        registered = await client.post(
            "/api/v1/auth/register",
            json={**person, "password": BREACHED},
            headers={"X-Tenant-ID": tid},
        )
        assert_breached(registered, "password")
        assert await mongo_client[db_name]["users"].count_documents({"email": person["email"]}) == 0

        change = "/api/v1/auth/change-password"
        changed = await client.post(
            change, json={"current_password": OWNER_PASSWORD, "new_password": BREACHED},
            headers=owner,
        )  # fmt: skip
        assert_breached(changed, "new_password")
        signup = {"company": "Gamma", "subdomain": "gamma", "email": "g@gamma.example.com",
                  "password": BREACHED, "full_name": "Gil Gamma"}  # fmt: skip
        assert_breached(await client.post("/api/v1/signup", json=signup), "password")

        accepted = await client.post(
            change, json={"current_password": OWNER_PASSWORD, "new_password": FRESH},
            headers=owner,
        )  # fmt: skip
        assert accepted.status_code == 204, accepted.text
    # Only the first five characters of each hash were sent, with padding asked for.
    assert fake.requests and all(padding == "true" for _, padding in fake.requests)
    assert {path for path, _ in fake.requests} <= {
        f"/range/{sha1_upper(p)[:5]}" for p in (BREACHED, FRESH, OWNER_PASSWORD)
    }


async def test_an_unreachable_corpus_does_not_stop_a_password_change(
    mongo_url: str, redis_url: str, db_name: str
) -> None:
    fake = FakePwned(breached={BREACHED: 1}, fail_with=503)
    async with app_checking(mongo_url, redis_url, db_name, fake) as client:
        acme = await onboard(client, "acme")
        owner = await owner_headers(client, acme)
        changed = await client.post(
            "/api/v1/auth/change-password",
            json={"current_password": OWNER_PASSWORD, "new_password": BREACHED},
            headers=owner,
        )
        assert changed.status_code == 204, changed.text
    assert fake.requests
