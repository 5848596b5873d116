"""Exporting contacts to CSV: ask for an export (`contacts:export`), read its state and
its signed link, and the job that writes the file.

Why `contacts:export` and not `contacts:read`: an export is every contact's personal
data in one file that leaves Parley; agents read contacts one conversation at a time and
should not carry the whole list away. Owners and admins have it; give it to other roles
on purpose.

Rules:
- the filters are those of `GET /contacts` (`q`, `tag`, `segment_id`, `opted_out`); a
  segment's filter is copied into the export when it is asked for (another tenant's
  segment is 404); no filter exports every live contact;
- the job streams the contacts in batches (memory bounded whatever the count) into a CSV
  (`contact_csv`) stored in the tenant's storage through the files feature, then the
  export is `done` with `total_rows`; the file is offered by a fresh signed link (the
  storage provider's own, `SIGNED_URL_TTL_SECONDS`) until `expires_at`
  (`CONTACT_EXPORT_TTL_HOURS` after it finished), after which `url` is null and a
  periodic job (`CONTACT_EXPORT_SWEEP_INTERVAL_SECONDS`) deletes the file;
- a run cut off by the job time limit is `failed` ("took too long"); a failure that
  will not pass (the storage refuses the file, a bug) is `failed` with a
  `reason`; one that may pass (the storage or the database unreachable) is retried by the
  job and is `failed` only after the last attempt; a worker that died mid-export leaves a
  lease that runs out, and the redelivered job starts the file again;
- audited: `contact.export_requested`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.errors import NotFound, ServiceUnavailable, TemporaryFailure
from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.messaging.contact_exports import (
    ContactExport,
    ContactExportRepository,
    ExpiredExports,
    ExportFiles,
    ExportLink,
    ExportStatus,
)
from api.domain.messaging.contacts import ContactQuery, ContactRepository
from api.domain.messaging.segments import SegmentRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time
from api.usecases.kernel.file_sweep import failure_reason, sweep_expired_files
from api.usecases.messaging.contact_csv import CsvCounter, csv_chunks
from api.usecases.messaging.contact_rules import normalised_tags
from api.usecases.messaging.manage_contacts import SEGMENT_NOT_FOUND

EXPORT_CONTACTS_JOB = "parley.contacts.export"
SWEEP_EXPORTS_JOB = "parley.contacts.sweep_exports"
SWEEP_BATCH = 100
SWEEP_MAX_BATCHES = 50
EXPORT_NOT_FOUND = "Export not found."
EXPORT_PURPOSE = "contact_export"
_RETRYABLE = (TemporaryFailure, ServiceUnavailable, TimeoutError)


@dataclass(frozen=True)
class ExportPolicy:
    """How long a finished export's file is offered, how long a run holds its export
    before another may take it over, and how many contacts are read at a time."""

    ttl: timedelta
    lease: timedelta
    batch_size: int = 500


class ExportFilters(BaseModel):
    """The filters of `GET /contacts`; none: every live contact."""

    q: str | None = None
    tag: str | None = None
    segment_id: str | None = None
    opted_out: bool | None = None


class ExportView(BaseModel):
    """An export as the API shows it: `link` only when done and not expired."""

    export: ContactExport
    link: ExportLink | None = None


class RequestContactExport:
    def __init__(
        self,
        exports: ContactExportRepository,
        segments: SegmentRepository,
        jobs: JobQueue,
        clock: Clock,
        auditor: Auditor,
    ) -> None:
        self._exports = exports
        self._segments = segments
        self._jobs = jobs
        self._clock = clock
        self._auditor = auditor

    async def execute(self, principal: Principal, filters: ExportFilters) -> ContactExport:
        require_permission(principal, Permission.CONTACTS_EXPORT)
        segment = None
        if filters.segment_id is not None:
            found = await self._segments.get(filters.segment_id)
            if found is None:
                raise NotFound(SEGMENT_NOT_FOUND)
            segment = found.filter
        tags = normalised_tags([filters.tag], ("body", "tag")) if filters.tag else []
        query = ContactQuery(q=filters.q or None, tag=tags[0] if tags else None,
                             opted_out=filters.opted_out, segment=segment)  # fmt: skip
        export = await self._exports.add(
            ContactExport(
                query=query, segment_id=filters.segment_id, requested_by=principal.user_id,
                created_at=stored_time(self._clock.now()),
            )
        )  # fmt: skip
        assert export.id is not None  # noqa: S101 - stored
        try:
            await self._jobs.enqueue(EXPORT_CONTACTS_JOB, export_id=export.id)
        except BaseException:
            await self._exports.fail(
                export.id, reason="The job could not be queued.", at=self._clock.now()
            )
            raise
        await self._auditor.record(
            "contact.export_requested", "contact_export", export.id,
            actor_id=principal.user_id,
            changes=audit_extra(principal, filters.model_dump(exclude_none=True)),
        )  # fmt: skip
        return export


class GetContactExport:
    """An export's state; when done and not expired, a fresh signed link to its file.
    Another tenant's export is 404."""

    def __init__(self, exports: ContactExportRepository, files: ExportFiles, clock: Clock) -> None:
        self._exports = exports
        self._files = files
        self._clock = clock

    async def execute(self, principal: Principal, export_id: str) -> ExportView:
        require_permission(principal, Permission.CONTACTS_EXPORT)
        export = await self._exports.get(export_id)
        if export is None:
            raise NotFound(EXPORT_NOT_FOUND)
        link = None
        live = export.expires_at is not None and export.expires_at > self._clock.now()
        if export.status is ExportStatus.DONE and export.file_id is not None and live:
            link = await self._files.link(export.file_id)
        return ExportView(export=export, link=link)


class RunContactExport:
    """The job's work (see the module's rules); True when this run wrote the file."""

    def __init__(
        self,
        exports: ContactExportRepository,
        contacts: ContactRepository,
        files: ExportFiles,
        clock: Clock,
        policy: ExportPolicy,
    ) -> None:
        self._exports = exports
        self._contacts = contacts
        self._files = files
        self._clock = clock
        self._policy = policy

    async def execute(self, export_id: str, *, final_attempt: bool = True) -> bool:
        export = await self._exports.get(export_id)
        now = self._clock.now()
        if export is None or not await self._exports.claim(
            export_id, at=now, lease_until=now + self._policy.lease
        ):
            return False
        try:
            file_id, rows = await self._write(export)
        except _RETRYABLE as exc:
            if not final_attempt:
                await self._exports.release(export_id)
                raise
            await self._exports.fail(export_id, reason=_reason(exc), at=self._clock.now())
            raise
        except BaseException as exc:
            await self._exports.fail(export_id, reason=_reason(exc), at=self._clock.now())
            raise
        finished = self._clock.now()
        await self._exports.finish(
            export_id, file_id=file_id, total_rows=rows, at=finished,
            expires_at=finished + self._policy.ttl,
        )  # fmt: skip
        return True

    async def _write(self, export: ContactExport) -> tuple[str, int]:
        assert export.id is not None  # noqa: S101 - stored
        keys = await self._contacts.attribute_keys(export.query)
        counter = CsvCounter()
        batches = self._contacts.batches(export.query, size=self._policy.batch_size)
        stamp = export.created_at.strftime("%Y%m%d-%H%M%S")
        file_id = await self._files.store_csv(
            f"contacts-{stamp}.csv", csv_chunks(batches, keys, counter), export.id
        )
        return file_id, counter.rows


class SweepExpiredExports:
    """Periodic (beat): delete the files of the exports whose `expires_at` has passed, in
    every tenant (each within its own tenant: the file, then the record's `file_id`, so a
    failure leaves it due for the next sweep). Returns how many files were deleted."""

    def __init__(
        self,
        due: ExpiredExports,
        exports: ContactExportRepository,
        files: ExportFiles,
        clock: Clock,
    ) -> None:
        self._due = due
        self._exports = exports
        self._files = files
        self._clock = clock

    async def execute(self) -> int:
        return await sweep_expired_files(
            self._clock.now(), due=self._due_ids, file_of=self._file_of,
            remove=self._files.remove, purged=self._exports.purged,
            batch=SWEEP_BATCH, max_batches=SWEEP_MAX_BATCHES,
        )  # fmt: skip

    async def _due_ids(self, at: datetime, limit: int) -> list[tuple[str, str]]:
        return [(item.tenant_id, item.export_id) for item in await self._due.due(at, limit)]

    async def _file_of(self, export_id: str) -> str | None:
        export = await self._exports.get(export_id)
        return export.file_id if export is not None else None


def _reason(exc: BaseException) -> str:
    """Why an export failed, for its owner (see `failure_reason`)."""
    return failure_reason(exc, "export")
