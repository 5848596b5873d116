"""Rotating `ENCRYPTION_KEY` end to end: secrets stored by the app under the old key
(MFA seeds of a tenant user and a platform admin, a WhatsApp channel's token and app
secret, S3 credentials), the app restarted with the new key and the old one listed as
previous, `secrets reseal` run, then the app restarted with the new key alone: everything
still works and every ciphertext in the database opens under the new key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from api.cli import execute, parse
from api.common.clock import utcnow
from api.config import Settings
from api.domain.files.storage import StorageConfig, StorageConfigRepository, StorageProvider
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.persistence.base.mongo import MongoClient
from api.infrastructure.security.secret_box import FernetSecretBox
from tests.e2e.tenants.test_cli import cli_process
from tests.support.app import serve
from tests.support.channels import connect
from tests.support.fake_graph import FakeGraph, serve_fake_graph
from tests.support.mfa import enable_mfa, sign_in, unused_code
from tests.support.onboarding import OWNER_PASSWORD, admin_headers, onboard, owner_headers
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings
from tests.support.webhook_calls import signed

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
APP_SECRET = "app-secret-0123456789"
S3_SECRET = "s3-secret-access-key"
EMPTY_DELIVERY = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()


def keyed(base: Settings, key: str, previous: str | None = None) -> Settings:
    settings = base.model_copy(deep=True)
    settings.auth.encryption_key = SecretStr(key)
    settings.auth.encryption_previous_keys = SecretStr(previous) if previous else None
    return settings


def fernet_tokens(value: Any) -> Iterator[str]:
    """Every string in a stored document that has the shape of a Fernet token."""
    if isinstance(value, str) and value.startswith("gAAAAA"):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from fernet_tokens(item)
    elif isinstance(value, list):
        for item in value:
            yield from fernet_tokens(item)


async def test_a_key_rotation_keeps_every_secret_and_frees_the_old_key(
    mongo_url: str, redis_url: str, db_name: str, mongo_client: MongoClient
) -> None:
    base = make_settings(mongo_url, redis_url, db_name)
    used: set[str] = set()
    graph = FakeGraph()
    async with serve_fake_graph(graph), serve(keyed(base, OLD)) as http:
        acme = await onboard(http, "acme")
        tid = acme.tenant.id or ""
        owner_seed = (await enable_mfa(http, await owner_headers(http, acme), used))["secret"]
        admin_seed = (await enable_mfa(http, await admin_headers(http), used))["secret"]
        channel = await connect(http, await owner_headers_mfa(http, acme, owner_seed, used),
                                graph.base_url, app_secret=APP_SECRET)  # fmt: skip
        configs: StorageConfigRepository = http.container.resolve(StorageConfigRepository)
        with tenant_context(TenantId(tid)):
            await configs.add(
                StorageConfig(provider=StorageProvider.S3, bucket="acme-files", region="eu-west-1",
                              access_key_id="AKIAEXAMPLE", secret_access_key=S3_SECRET,
                              created_at=utcnow())
            )  # fmt: skip

    async with serve(keyed(base, NEW, OLD)) as http:
        dry = await execute(http.container, parse(["secrets", "reseal", "--dry-run"]))
        assert (dry["resealed"], dry["unreadable"], dry["dry_run"]) == (5, 0, True)
        report = await execute(http.container, parse(["secrets", "reseal"]))
        assert (report["checked"], report["resealed"], report["current"]) == (5, 5, 0)
        assert (report["unreadable"], report["changed_meanwhile"]) == (0, 0)

    database = mongo_client[db_name]
    new_only = FernetSecretBox(NEW)
    seen = 0
    for name in await database.list_collection_names():
        async for document in database[name].find({}):
            for token in fernet_tokens(document):
                new_only.decrypt(token)  # raises if anything still needs the old key
                seen += 1
    assert seen >= 5

    async with serve(keyed(base, NEW)) as http:
        # MFA seeds: both sign in with a code from the seeds set up under the old key.
        auth = await owner_headers_mfa(http, acme, owner_seed, used)
        challenge = await sign_in(http, ADMIN_EMAIL, ADMIN_PASSWORD, None)
        verified = await http.post(
            "/api/v1/auth/mfa/verify",
            json={"mfa_token": challenge["mfa_token"], "code": unused_code(admin_seed, used)},
        )
        assert verified.status_code == 200, verified.text
        # The channel's app secret still checks Meta's signatures.
        hook = f"/api/v1/webhooks/whatsapp/{channel['id']}"
        good = await http.post(
            hook, content=EMPTY_DELIVERY, headers=signed(EMPTY_DELIVERY, APP_SECRET)
        )
        assert good.status_code == 200, good.text
        bad = await http.post(
            hook, content=EMPTY_DELIVERY, headers=signed(EMPTY_DELIVERY, "x" * 20)
        )
        assert bad.status_code == 403, bad.text
        # The S3 credentials still open (a 503 "cannot be decrypted" otherwise).
        storage = await http.get("/api/v1/storage", headers=auth)
        assert storage.status_code == 200, storage.text
        assert storage.json()["has_secret"] is True and S3_SECRET not in storage.text

    # A secret no configured key opens: reported by place, left as it is, exit status 1.
    lost = FernetSecretBox(Fernet.generate_key().decode()).encrypt("lost")
    await database["channels"].update_one(
        {"_id": {"$exists": True}}, {"$set": {"secrets.app_secret": lost}}
    )
    status, out, err = await cli_process(
        mongo_url, redis_url, db_name, "secrets", "reseal",
        env={"ENCRYPTION_KEY": NEW, "ENCRYPTION_PREVIOUS_KEYS": OLD},
    )  # fmt: skip
    assert status == 1, err
    assert out["unreadable"] == 1 and out["unreadable_at"] == [
        f"channels {channel['id']} secrets.app_secret"
    ]
    assert "open under no configured key" in err and "lost" not in json.dumps(out)
    stored = await database["channels"].find_one({})
    assert stored is not None and stored["secrets"]["app_secret"] == lost


async def owner_headers_mfa(http: Any, acme: Any, seed: str, used: set[str]) -> dict[str, str]:
    """The owner's headers, signed in with a password and a TOTP code."""
    tid = acme.tenant.id or ""
    challenge = await sign_in(http, acme.owner.email, OWNER_PASSWORD, tid)
    verified = await http.post(
        "/api/v1/auth/mfa/verify",
        json={"mfa_token": challenge["mfa_token"], "code": unused_code(seed, used)},
        headers={"X-Tenant-ID": tid},
    )
    assert verified.status_code == 200, verified.text
    return {"Authorization": f"Bearer {verified.json()['access_token']}", "X-Tenant-ID": tid}
