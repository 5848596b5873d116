"""Single-use tokens (password reset, email verification, invitation) in MongoDB.

Platform-level: a token is looked up by its hash, before any tenant is known, and names
its tenant. Only an HMAC-SHA256 of the token is stored; consuming is one atomic
`find_one_and_update` on the hash, so a token is accepted at most once however many
requests present it at the same time. Expired entries are removed by a TTL index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, ClassVar

from beanie import Document
from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from api.common.clock import utcnow
from api.infrastructure.persistence.base.mongo import database_errors

MAX_TOKEN_LENGTH = 512


class OneTimeTokenDocument(Document):
    """One issued token: its keyed hash, what it is for, whose it is, and when it was used."""

    token_hash: str
    purpose: str
    user_id: str
    tenant_id: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    class Settings:
        name = "one_time_tokens"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("token_hash", 1)], unique=True, name="token_hash_unique"),
            IndexModel([("user_id", 1), ("purpose", 1)], name="user_purpose"),
            IndexModel([("expires_at", 1)], name="expires_at_ttl", expireAfterSeconds=0),
        ]


class MongoOneTimeTokens:
    """`OneTimeTokens` adapter; `hash_secret` keys the HMAC of stored tokens."""

    def __init__(self, hash_secret: str) -> None:
        if not hash_secret:
            raise ValueError("the one-time token hash secret is empty")
        self._secret = hash_secret.encode("utf-8")

    @property
    def _collection(self) -> AsyncCollection[dict[str, Any]]:
        return OneTimeTokenDocument.get_pymongo_collection()

    def _hash(self, token: str) -> str:
        return hmac.new(self._secret, token.encode("utf-8"), hashlib.sha256).hexdigest()

    async def issue(
        self, *, purpose: str, user_id: str, tenant_id: str | None, ttl_seconds: int
    ) -> str:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with database_errors():
            await self._collection.insert_one(
                {
                    "token_hash": self._hash(token),
                    "purpose": purpose,
                    "user_id": user_id,
                    "tenant_id": tenant_id,
                    "created_at": now,
                    "expires_at": now + timedelta(seconds=ttl_seconds),
                    "used_at": None,
                }
            )
        return token

    async def consume(self, *, purpose: str, token: str) -> tuple[str, str | None] | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        now = utcnow()
        with database_errors():
            raw = await self._collection.find_one_and_update(
                {
                    "token_hash": self._hash(token),
                    "purpose": purpose,
                    "used_at": None,
                    "expires_at": {"$gt": now},
                },
                {"$set": {"used_at": now}},
                projection={"user_id": 1, "tenant_id": 1},
            )
        if raw is None:
            return None
        return raw["user_id"], raw.get("tenant_id")

    async def revoke_for_user(self, *, purpose: str, user_id: str) -> None:
        with database_errors():
            await self._collection.update_many(
                {"user_id": user_id, "purpose": purpose, "used_at": None},
                {"$set": {"used_at": utcnow()}},
            )
