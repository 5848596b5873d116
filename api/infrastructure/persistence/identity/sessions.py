"""Sign-in sessions (refresh-token families) in MongoDB.

Platform-level like tenants: a session is found by its id (the refresh token carries it),
and names its tenant (`None` for the platform plane). The `_id` is the session id string.

Rotation is one atomic `find_one_and_update` whose filter holds the presented hash, so of
any number of concurrent refreshes with the same token exactly one wins. The spent hashes
(the last 50) tell a lost race (spent moments ago: refuse, keep the family) from a replay
of a stolen token (spent earlier: revoke the whole family).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.identity.auth import RotateOutcome, Rotation, Session
from api.infrastructure.persistence.base.mongo import database_errors

MAX_LISTED = 200  # sessions listed for one user (each sign-in makes one)
SPENT_KEPT = 50


class SpentHash(BaseModel):
    hash: str
    at: datetime


class SessionDocument(Document):
    """One session; `_id` is the session id (a string, not an ObjectId)."""

    # Beanie types `Document.id` as an ObjectId; a session's `_id` is its string id.
    id: str = Field(alias="_id")  # type: ignore[assignment]
    tenant_id: str | None
    user_id: str
    current_hash: str
    created_at: datetime
    expires_at: datetime
    revoked: bool = False
    actor_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    last_used_at: datetime | None = None
    spent: list[SpentHash] = Field(default_factory=list)

    class Settings:
        name = "sessions"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("tenant_id", 1), ("user_id", 1)], name="tenant_user"),
            IndexModel([("expires_at", 1)], name="expires_at_ttl", expireAfterSeconds=0),
        ]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_session(raw: Mapping[str, Any]) -> Session:
    return Session(
        id=raw["_id"],
        tenant_id=raw.get("tenant_id"),
        user_id=raw["user_id"],
        current_hash=raw["current_hash"],
        created_at=_aware(raw["created_at"]),
        expires_at=_aware(raw["expires_at"]),
        revoked=bool(raw.get("revoked", False)),
        actor_id=raw.get("actor_id"),
        ip=raw.get("ip"),
        user_agent=raw.get("user_agent"),
        last_used_at=_aware(raw["last_used_at"]) if raw.get("last_used_at") else None,
    )


class MongoSessionStore:
    """`SessionStore` adapter. A token spent less than `reuse_grace_seconds` ago is a lost
    race (RACED); spent earlier, it is a replay and revokes the family (REUSED)."""

    def __init__(self, reuse_grace_seconds: float) -> None:
        self._grace = reuse_grace_seconds

    @property
    def _collection(self) -> AsyncCollection[dict[str, Any]]:
        return SessionDocument.get_pymongo_collection()

    async def create(self, session: Session) -> None:
        document: dict[str, Any] = {
            "_id": session.id,
            "tenant_id": session.tenant_id,
            "user_id": session.user_id,
            "current_hash": session.current_hash,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "revoked": session.revoked,
            "actor_id": session.actor_id,
            "ip": session.ip,
            "user_agent": session.user_agent,
            "last_used_at": session.last_used_at,
            "spent": [],
        }
        try:
            with database_errors():
                await self._collection.insert_one(document)
        except DuplicateKeyError as exc:
            raise Conflict("The session already exists.") from exc

    async def rotate(self, session_id: str, presented_hash: str, new_hash: str) -> Rotation:
        now = utcnow()
        with database_errors():
            rotated = await self._collection.find_one_and_update(
                {
                    "_id": session_id,
                    "current_hash": presented_hash,
                    "revoked": False,
                    "expires_at": {"$gt": now},
                },
                {
                    "$set": {"current_hash": new_hash, "last_used_at": now},
                    "$push": {
                        "spent": {
                            "$each": [{"hash": presented_hash, "at": now}],
                            "$slice": -SPENT_KEPT,
                        }
                    },
                },
                return_document=ReturnDocument.AFTER,
            )
        if rotated is not None:
            return Rotation(RotateOutcome.ROTATED, _to_session(rotated))
        return await self._classify_miss(session_id, presented_hash, now)

    async def _classify_miss(self, session_id: str, presented_hash: str, now: datetime) -> Rotation:
        with database_errors():
            raw = await self._collection.find_one({"_id": session_id})
        if raw is None or raw.get("revoked") or _aware(raw["expires_at"]) <= now:
            return Rotation(RotateOutcome.INVALID)
        spent_at = [
            _aware(entry["at"]) for entry in raw.get("spent", []) if entry["hash"] == presented_hash
        ]
        if not spent_at:
            return Rotation(RotateOutcome.INVALID)
        if (now - max(spent_at)).total_seconds() < self._grace:
            return Rotation(RotateOutcome.RACED, _to_session(raw))
        revoked = await self.revoke(session_id)
        return Rotation(RotateOutcome.REUSED, revoked or _to_session(raw))

    async def revoke(self, session_id: str) -> Session | None:
        with database_errors():
            raw = await self._collection.find_one_and_update(
                {"_id": session_id},
                {"$set": {"revoked": True}},
                return_document=ReturnDocument.AFTER,
            )
        return _to_session(raw) if raw is not None else None

    async def revoke_all(self, tenant_id: str | None, user_id: str) -> list[str]:
        owner = {"tenant_id": tenant_id, "user_id": user_id, "revoked": False}
        with database_errors():
            active = await self._collection.find(owner, {"_id": 1}).to_list(length=None)
            # The whole owner filter, not just the ids found: a session created meanwhile
            # is revoked too (its id is simply not reported).
            await self._collection.update_many(owner, {"$set": {"revoked": True}})
        return [entry["_id"] for entry in active]

    async def revoke_many(self, tenant_id: str | None, user_id: str, session_ids: list[str]) -> int:
        if not session_ids:
            return 0
        owned = {"_id": {"$in": session_ids}, "tenant_id": tenant_id, "user_id": user_id,
                 "revoked": False}  # fmt: skip
        with database_errors():
            result = await self._collection.update_many(owned, {"$set": {"revoked": True}})
        return result.modified_count

    async def live(self, tenant_id: str | None, user_id: str) -> list[Session]:
        owner = {"tenant_id": tenant_id, "user_id": user_id, "revoked": False}
        with database_errors():
            found = await self._collection.find(
                {**owner, "expires_at": {"$gt": utcnow()}}, {"spent": 0}
            ).to_list(length=MAX_LISTED)
        return sorted(map(_to_session, found), key=lambda s: s.created_at, reverse=True)

    async def clients_before(
        self, tenant_id: str | None, user_id: str, session_id: str
    ) -> set[str | None]:
        owner = {"tenant_id": tenant_id, "user_id": user_id, "_id": {"$ne": session_id}}
        with database_errors():
            found = await self._collection.find(owner, {"user_agent": 1}).to_list(length=MAX_LISTED)
        return {raw.get("user_agent") for raw in found}
