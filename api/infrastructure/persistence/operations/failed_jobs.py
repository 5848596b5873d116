"""Failed jobs in MongoDB, kept `FAILED_JOBS_RETENTION_DAYS` by a TTL index.

Platform-level by design (operators see every tenant's failures); each entry names its
tenant, and nothing here is reachable through tenant-scoped routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from beanie import Document, SortDirection
from pymongo import DESCENDING, IndexModel

from api.domain.jobs import FailedJob, JobArgument
from api.infrastructure.persistence.base.mongo import database_errors, ensure_ttl_index
from api.infrastructure.persistence.base.paging import window

RETENTION_INDEX = "failed_at_ttl"


class FailedJobDocument(Document):
    task: str
    task_id: str
    tenant_id: str | None
    request_id: str | None
    arguments: dict[str, JobArgument]
    error_type: str
    error: str
    attempts: int
    failed_at: datetime

    class Settings:
        name = "failed_jobs"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("tenant_id", 1), ("failed_at", DESCENDING)], name="tenant_failed_at"),
        ]

    def to_entity(self) -> FailedJob:
        return FailedJob(id=str(self.id), **self.model_dump(exclude={"id", "revision_id"}))


class MongoFailedJobLog:
    """`FailedJobLog` adapter."""

    def __init__(self, retention_days: int) -> None:
        self._retention_seconds = retention_days * 86400

    async def ensure_retention(self) -> None:
        """Create (or resize) the TTL index that forgets old failures."""
        await ensure_ttl_index(
            FailedJobDocument, "failed_at", RETENTION_INDEX, self._retention_seconds
        )

    async def record(self, job: FailedJob) -> None:
        with database_errors():
            await FailedJobDocument(**job.model_dump(exclude={"id"})).insert()

    async def recent(self, *, limit: int) -> list[FailedJob]:
        bounds = window(0, limit)
        if bounds is None:
            return []
        with database_errors():
            query = FailedJobDocument.find({}).sort([("failed_at", SortDirection.DESCENDING)])
            documents = await query.limit(bounds.limit).to_list()
        return [d.to_entity() for d in documents]
