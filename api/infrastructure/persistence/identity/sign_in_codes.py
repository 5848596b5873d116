"""Sign-in codes in MongoDB: one document per user and tenant, holding the HMAC of the
current code (never the code), its expiry, the attempts spent and when it was used.

A new code replaces the previous one in place (an upsert on the unique tenant/user key,
attempts back to 0). `check` is three single-document updates keyed by `_id`, each
conditional, so concurrent requests cannot spend more than `max_attempts` comparisons
or use a code twice: SecantusDB scans on `findAndModify`, so no `find_one_and_update`.
Expired documents are removed by a TTL index (a day after expiry: they are harmless).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, ClassVar

from beanie import Document
from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from api.domain.identity.sign_in_codes import CodeCheck
from api.infrastructure.persistence.base.mongo import database_errors

CODE_LENGTH = 6


class SignInCodeDocument(Document):
    tenant_id: str
    user_id: str
    code_hash: str
    attempts: int = 0
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    class Settings:
        name = "sign_in_codes"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("tenant_id", 1), ("user_id", 1)], unique=True, name="tenant_user"),
            IndexModel([("expires_at", 1)], name="expires_at_ttl", expireAfterSeconds=86400),
        ]


class MongoSignInCodes:
    """`SignInCodes` adapter; `hash_secret` keys the HMAC of stored codes."""

    def __init__(self, hash_secret: str) -> None:
        if not hash_secret:
            raise ValueError("the sign-in code hash secret is empty")
        self._secret = hash_secret.encode("utf-8")

    @property
    def _collection(self) -> AsyncCollection[dict[str, Any]]:
        return SignInCodeDocument.get_pymongo_collection()

    def _hash(self, tenant_id: str, user_id: str, code: str) -> str:
        # Keyed by the owner too: the same six digits hash differently for each user.
        message = f"{tenant_id}:{user_id}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def replace(
        self, *, tenant_id: str, user_id: str, code: str, now: datetime, expires_at: datetime
    ) -> None:
        fields = {
            "code_hash": self._hash(tenant_id, user_id, code),
            "attempts": 0,
            "created_at": now,
            "expires_at": expires_at,
            "used_at": None,
        }
        key = {"tenant_id": tenant_id, "user_id": user_id}
        with database_errors():
            try:
                await self._collection.update_one(key, {"$set": fields}, upsert=True)
            except DuplicateKeyError:  # a concurrent first code for this user: overwrite it
                await self._collection.update_one(key, {"$set": fields})

    async def check(
        self, *, tenant_id: str, user_id: str, code: str, now: datetime, max_attempts: int
    ) -> CodeCheck:
        if len(code) != CODE_LENGTH or not code.isdigit():
            return CodeCheck.WRONG
        with database_errors():
            stored = await self._collection.find_one({"tenant_id": tenant_id, "user_id": user_id})
            if stored is None or stored.get("used_at") is not None:
                return CodeCheck.INVALID
            if stored["expires_at"] <= now:
                return CodeCheck.INVALID
            current = {"_id": stored["_id"], "code_hash": stored["code_hash"], "used_at": None}
            spent = await self._collection.update_one(
                {**current, "attempts": {"$lt": max_attempts}}, {"$inc": {"attempts": 1}}
            )
            if spent.modified_count != 1:
                return CodeCheck.INVALID  # out of attempts, used or replaced meanwhile
            if not hmac.compare_digest(self._hash(tenant_id, user_id, code), stored["code_hash"]):
                return CodeCheck.WRONG
            used = await self._collection.update_one(current, {"$set": {"used_at": now}})
        return CodeCheck.ACCEPTED if used.modified_count == 1 else CodeCheck.INVALID
