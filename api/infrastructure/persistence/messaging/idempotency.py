"""Idempotency keys of `POST /messages` in MongoDB, per tenant, kept `IDEMPOTENCY_KEY_TTL_HOURS`.

`(tenant, key)` is unique, so of concurrent requests with one key exactly one inserts
its record (an upsert with `$setOnInsert`: the others match it and read it back). A TTL
index forgets records after the retention; until its sweep runs, a record older than the
retention is treated as absent (and replaced by the next claim).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from pymongo import IndexModel

from api.domain.clock import Clock
from api.domain.messaging.outbound import IdempotencyRecord
from api.infrastructure.persistence.base.mongo import ensure_ttl_index
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)

RETENTION_INDEX = "created_at_ttl"


class IdempotencyKeyDocument(TenantOwnedDocument):
    key: str
    fingerprint: str
    message_id: str
    created_at: datetime

    class Settings:
        name = "message_idempotency_keys"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("key", 1)], unique=True, name="tenant_key_unique"),
        ]

    def to_record(self) -> IdempotencyRecord:
        return IdempotencyRecord(
            key=self.key,
            fingerprint=self.fingerprint,
            message_id=self.message_id,
            created_at=self.created_at,
        )


class MongoIdempotencyKeys:
    """`IdempotencyKeys` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self, retention: timedelta, clock: Clock) -> None:
        self._retention = retention
        self._clock = clock
        self._scoped = TenantScopedRepository(IdempotencyKeyDocument)

    async def ensure_retention(self) -> None:
        await ensure_ttl_index(
            IdempotencyKeyDocument,
            "created_at",
            RETENTION_INDEX,
            int(self._retention.total_seconds()),
        )

    async def find(self, key: str) -> IdempotencyRecord | None:
        found = await self._scoped.find({"key": key}, limit=1)
        if not found or self._expired(found[0].created_at):
            return None
        return found[0].to_record()

    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        stale_before = self._clock.now() - self._retention
        # An expired record the TTL sweep has not removed yet gives its key up.
        await self._scoped.delete_many({"key": record.key, "created_at": {"$lt": stale_before}})
        await self._scoped.upsert(
            {"key": record.key},
            {"$setOnInsert": record.model_dump(exclude={"key"})},
        )
        found = await self._scoped.find({"key": record.key}, limit=1)
        return found[0].to_record() if found else record

    async def release(self, key: str, message_id: str) -> None:
        await self._scoped.delete_many({"key": key, "message_id": message_id})

    def _expired(self, created_at: datetime) -> bool:
        return created_at < self._clock.now() - self._retention
