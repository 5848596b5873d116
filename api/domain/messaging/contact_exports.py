"""Contact exports: a job that writes the tenant's contacts (all, or those a list query
selects) to a CSV file in the tenant's storage, then offers it by signed link.

An export is `queued` when asked for, `running` while the job writes it, then `done`
(with `total_rows` and the stored file) or `failed` (with a `reason`). The query is fixed
when the export is asked for (a segment's filter is copied then), so the job exports
what the user chose even if the segment changes meanwhile. A done export's file is
offered until `expires_at`; then a periodic job deletes the file (`purge_at` marks
the exports whose file is still to be deleted).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from api.domain.messaging.contacts import ContactQuery


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ContactExport(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    status: ExportStatus = ExportStatus.QUEUED
    query: ContactQuery  # what to export (a segment's filter copied in)
    segment_id: str | None = None  # the segment the query came from, if any
    requested_by: str | None = None  # the user who asked
    total_rows: int = 0
    file_id: str | None = None  # the stored CSV, once done
    reason: str | None = None  # why it failed
    attempts: int = 0
    lease_until: datetime | None = None  # a running job's hold (a crashed one lets go)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None  # the file is offered until then
    purge_at: datetime | None = None  # the file is to be deleted then (None: nothing to do)


class DueExport(BaseModel):
    """A done export whose file is due for deletion, in whichever tenant."""

    tenant_id: str
    export_id: str


class ExportLink(BaseModel):
    """A signed download link of an export's file, valid until `expires_at`."""

    url: str
    expires_at: datetime


class ContactExportRepository(Protocol):
    """Exports of the current tenant (scoped by the context; fail closed without one)."""

    async def add(self, export: ContactExport) -> ContactExport: ...

    async def get(self, export_id: str) -> ContactExport | None: ...

    async def claim(self, export_id: str, *, at: datetime, lease_until: datetime) -> bool:
        """Mark it `running` (attempts + 1) when it is `queued`, or `running` with a lease
        that ran out before `at` (its worker died); False otherwise (done, failed, or held
        by a live run). Atomic: two jobs for one export never both claim it."""
        ...

    async def finish(
        self, export_id: str, *, file_id: str, total_rows: int, at: datetime, expires_at: datetime
    ) -> bool:
        """Mark the running export `done` with its file and row count (its file is due
        for deletion at `expires_at`)."""
        ...

    async def fail(self, export_id: str, *, reason: str, at: datetime) -> bool:
        """Mark the export `failed` with `reason`, unless it is done already."""
        ...

    async def release(self, export_id: str) -> None:
        """Give a running export back (`queued`) after a failure that will be retried."""
        ...

    async def purged(self, export_id: str, file_id: str) -> bool:
        """Record that the export's file `file_id` is deleted (`file_id` and `purge_at`
        cleared; the export stays, `done`, without a link)."""
        ...


class ExpiredExports(Protocol):
    """The one cross-tenant read of exports: those whose file is due for deletion, for
    the periodic job that deletes them (each within its own tenant)."""

    async def due(self, at: datetime, limit: int) -> list[DueExport]:
        """At most `limit` exports whose `purge_at` is `at` or earlier, earliest first."""
        ...


class ExportFiles(Protocol):
    """Where export files go: the tenant's storage, through the files feature."""

    async def store_csv(self, filename: str, chunks: AsyncIterator[bytes], owner_id: str) -> str:
        """Store the CSV streamed in `chunks` as one of the tenant's files; its id."""
        ...

    async def link(self, file_id: str) -> ExportLink | None:
        """A fresh signed download link; None when the file is gone."""
        ...

    async def remove(self, file_id: str) -> None:
        """Delete the file (blob and record); one already gone is not an error."""
        ...
