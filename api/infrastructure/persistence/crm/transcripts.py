"""Conversation transcripts in MongoDB (`conversation_transcripts`), within the current
tenant. Every change of state is one conditional update on the transcript's id, so two
runs of one transcript's job never both write it. `active_key` (the conversation's id) is
set while a transcript is queued or running and removed when it ends; a unique index
over `(tenant, active_key)` keeps one active transcript per conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pymongo import ASCENDING, DESCENDING, IndexModel

from api.domain.crm.transcripts import (
    DueTranscript,
    Transcript,
    TranscriptFormat,
    TranscriptStatus,
)
from api.infrastructure.persistence.base.leases import claim_under_lease, due_for_purge
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
    tenant_first,
    to_object_id,
)

ACTIVE_KEY = "active_key"
_ENDED = {ACTIVE_KEY: ""}  # `$unset`: the transcript is no longer the conversation's active one


class TranscriptDocument(TenantOwnedDocument):
    conversation_id: str
    format: TranscriptFormat
    status: TranscriptStatus = TranscriptStatus.QUEUED
    active_key: str | None = None
    requested_by: str | None = None
    entries: int = 0
    truncated: bool = False
    file_id: str | None = None
    error: str | None = None
    attempts: int = 0
    lease_until: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    purge_at: datetime | None = None

    class Settings:
        name = "conversation_transcripts"
        keep_nulls = False
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel(
                [(TENANT_FIELD, 1), (ACTIVE_KEY, 1)],
                unique=True,
                partialFilterExpression={ACTIVE_KEY: {"$type": "string"}},
                name="active_per_conversation_unique",
            ),
            IndexModel(
                [(TENANT_FIELD, 1), ("conversation_id", 1), ("created_at", DESCENDING)],
                name="conversation_newest",
            ),
            # The sweep's cross-tenant read: only transcripts with a file still to delete
            # have a date here (cleared once deleted), so its range stays small.
            IndexModel([("purge_at", ASCENDING)], name="purge_due"),
        ]

    def to_entity(self) -> Transcript:
        return Transcript(
            id=str(self.id), **self.model_dump(exclude={"id", "revision_id", ACTIVE_KEY})
        )


class BeanieTranscriptRepository:
    """`TranscriptRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(TranscriptDocument)

    async def add(self, transcript: Transcript) -> Transcript:
        fields = transcript.model_dump(exclude={"id", "tenant_id"})
        document = TranscriptDocument(**fields, active_key=transcript.conversation_id)
        return (await self._scoped.insert(document)).to_entity()  # a second one: Conflict

    async def get(self, transcript_id: str) -> Transcript | None:
        document = await self._scoped.get(transcript_id)
        return document.to_entity() if document else None

    async def active(self, conversation_id: str) -> Transcript | None:
        found = await self._scoped.find(
            tenant_first(**{ACTIVE_KEY: conversation_id}),
            sort=[("created_at", SortDirection.DESCENDING)], limit=1,
        )  # fmt: skip
        return found[0].to_entity() if found else None

    async def count_active(self) -> int:
        return await self._scoped.count(tenant_first(**{ACTIVE_KEY: {"$type": "string"}}))

    async def claim(self, transcript_id: str, *, at: datetime, lease_until: datetime) -> bool:
        return await claim_under_lease(
            self._scoped, transcript_id, at=at, lease_until=lease_until,
            queued=TranscriptStatus.QUEUED.value, running=TranscriptStatus.RUNNING.value,
        )  # fmt: skip

    async def finish(
        self,
        transcript_id: str,
        *,
        file_id: str,
        entries: int,
        truncated: bool,
        at: datetime,
        expires_at: datetime,
    ) -> bool:
        return await self._change(
            transcript_id,
            {"status": TranscriptStatus.RUNNING.value},
            {"$set": {"status": TranscriptStatus.READY.value, "file_id": file_id,
                      "entries": entries, "truncated": truncated, "finished_at": at,
                      "expires_at": expires_at, "purge_at": expires_at},
             "$unset": {"lease_until": "", **_ENDED}},
        )  # fmt: skip

    async def fail(self, transcript_id: str, *, error: str, at: datetime) -> bool:
        return await self._change(
            transcript_id,
            {"status": {"$ne": TranscriptStatus.READY.value}},
            {"$set": {"status": TranscriptStatus.FAILED.value, "error": error,
                      "finished_at": at},
             "$unset": {"lease_until": "", **_ENDED}},
        )  # fmt: skip

    async def release(self, transcript_id: str) -> None:
        await self._change(
            transcript_id,
            {"status": TranscriptStatus.RUNNING.value},
            {"$set": {"status": TranscriptStatus.QUEUED.value}, "$unset": {"lease_until": ""}},
        )

    async def purged(self, transcript_id: str, file_id: str) -> bool:
        return await self._change(
            transcript_id, {"file_id": file_id}, {"$unset": {"file_id": "", "purge_at": ""}}
        )

    async def _change(
        self, transcript_id: str, condition: dict[str, Any], update: dict[str, Any]
    ) -> bool:
        oid = to_object_id(transcript_id)
        if oid is None:
            return False
        return await self._scoped.apply_where({"_id": oid, **condition}, update)


class PlatformExpiredTranscripts:
    """`ExpiredTranscripts` adapter (platform-level by design; read-only, ids only)."""

    async def due(self, at: datetime, limit: int) -> list[DueTranscript]:
        return [
            DueTranscript(tenant_id=tenant_id, transcript_id=record_id)
            for tenant_id, record_id in await due_for_purge(TranscriptDocument, at, limit)
        ]
