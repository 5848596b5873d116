"""Re-sealing stored secrets under a new key, against a real Mongo-wire server: every
listed field in every tenant, what no key opens reported and left, a value saved meanwhile
kept, a dry run that writes nothing, and a second sweep with nothing left to do."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from cryptography.fernet import Fernet

from api.common.clock import utcnow
from api.domain.operations.sealed_secrets import SealedSecret
from api.infrastructure.persistence.base.mongo import MongoClient
from api.infrastructure.persistence.operations.sealed_secrets import MongoSealedSecrets
from api.infrastructure.security.secret_box import FernetSecretBox
from api.usecases.operations.reseal_secrets import ResealSecrets

OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))


def sealed(key: str, secret: str) -> str:
    return FernetSecretBox(key).encrypt(secret)


async def seed_secrets(mongo_client: MongoClient, db_name: str) -> dict[str, Any]:
    """Secrets sealed under the old key, the new one and a lost one; their records' ids."""
    database = mongo_client[db_name]
    now = utcnow()
    user = {"tenant_id": "a" * 24, "email": "ada@example.com", "full_name": "Ada",
            "mfa_enabled": True, "mfa_secret": sealed(OLD, "SEEDA"), "created_at": now,
            "updated_at": now}  # fmt: skip
    no_mfa = {**user, "email": "bob@example.com", "mfa_secret": None}
    admin = {"email": "root@example.com", "full_name": "Root", "mfa_secret": sealed(NEW, "SEEDR"),
             "created_at": now, "updated_at": now}  # fmt: skip
    channel = {"tenant_id": "b" * 24, "secrets": {"access_token": sealed(OLD, "tok"),
               "app_secret": sealed(LOST, "lost-app-secret")}}  # fmt: skip
    storage = {"tenant_id": "a" * 24, "provider": "s3", "connection_string": None,
               "secret_access_key": sealed(OLD, "s3-secret")}  # fmt: skip
    return {
        "user": (await database["users"].insert_one(user)).inserted_id,
        "no_mfa": (await database["users"].insert_one(no_mfa)).inserted_id,
        "admin": (await database["platform_users"].insert_one(admin)).inserted_id,
        "channel": (await database["channels"].insert_one(channel)).inserted_id,
        "storage": (await database["storage_configs"].insert_one(storage)).inserted_id,
    }


async def test_a_sweep_reseals_what_an_old_key_sealed_and_reports_what_none_opens(
    mongo_client: MongoClient, db_name: str
) -> None:
    ids = await seed_secrets(mongo_client, db_name)
    database = mongo_client[db_name]
    before = await database["channels"].find_one({"_id": ids["channel"]})
    assert before is not None
    rotated = FernetSecretBox(NEW, [OLD])
    sweep = ResealSecrets(MongoSealedSecrets(), rotated)

    dry = await sweep.execute(dry_run=True)
    assert (dry.checked, dry.resealed, dry.current, dry.unreadable) == (5, 3, 1, 1)
    assert await database["channels"].find_one({"_id": ids["channel"]}) == before  # unchanged

    report = await sweep.execute()
    assert (report.checked, report.resealed, report.current, report.unreadable) == (5, 3, 1, 1)
    assert report.changed_meanwhile == 0
    assert report.unreadable_at == [f"channels {ids['channel']} secrets.app_secret"]
    assert "lost-app-secret" not in str(report.model_dump())

    new_only = FernetSecretBox(NEW)
    user = await database["users"].find_one({"_id": ids["user"]})
    admin = await database["platform_users"].find_one({"_id": ids["admin"]})
    channel = await database["channels"].find_one({"_id": ids["channel"]})
    storage = await database["storage_configs"].find_one({"_id": ids["storage"]})
    assert user is not None and admin is not None and channel is not None and storage is not None
    assert new_only.decrypt(user["mfa_secret"]) == "SEEDA"
    assert new_only.decrypt(admin["mfa_secret"]) == "SEEDR"
    assert new_only.decrypt(channel["secrets"]["access_token"]) == "tok"
    assert new_only.decrypt(storage["secret_access_key"]) == "s3-secret"
    assert channel["secrets"]["app_secret"] == before["secrets"]["app_secret"]  # left as it was
    assert FernetSecretBox(LOST).decrypt(channel["secrets"]["app_secret"]) == "lost-app-secret"

    again = await sweep.execute()
    assert (again.checked, again.resealed, again.current, again.unreadable) == (5, 0, 4, 1)


async def test_a_value_saved_during_the_sweep_is_kept(
    mongo_client: MongoClient, db_name: str
) -> None:
    ids = await seed_secrets(mongo_client, db_name)
    database = mongo_client[db_name]
    secrets = MongoSealedSecrets()
    found = [s async for batch in secrets.batches() for s in batch]
    seed = next(s for s in found if s.store == "users")
    assert seed == SealedSecret("users", str(ids["user"]), "mfa_secret", seed.ciphertext)
    newer = sealed(NEW, "SEED-NEWER")
    await database["users"].update_one({"_id": ids["user"]}, {"$set": {"mfa_secret": newer}})
    assert not await secrets.replace(seed, sealed(NEW, "SEEDA"))
    user = await database["users"].find_one({"_id": ids["user"]})
    assert user is not None and user["mfa_secret"] == newer
    # Nothing is written where no listed record is.
    elsewhere = SealedSecret("files", str(ObjectId()), "mfa_secret", seed.ciphertext)
    assert not await secrets.replace(elsewhere, newer)
    missing = SealedSecret("users", "not-an-id", "mfa_secret", seed.ciphertext)
    assert not await secrets.replace(missing, newer)
