"""Contact imports over the API (`contacts:write` to start one, `contacts:read` to watch):
start an import from an uploaded CSV or XLSX file, read one, list them, read a report of
the rows that failed or were skipped.

Starting: the file is stored in the tenant's storage (the files feature: sniffed, size
limited by `MAX_IMPORT_BYTES`, streamed), its header read, the mapping checked against it
(`import_rules`), then the import is queued (`queued`, 202) for the job
(`RunContactImport`). A file that is not CSV or XLSX is 422 `invalid_import_file`, one
without a header or rows 422 `empty_import_file`, a bad mapping 422
`invalid_import_mapping` (the stored file is removed again in each case). When the job
queue is down the import stays `queued` and the sweeper queues it later. Audited:
`contact_import.created`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from api.domain.errors import NotFound, ServiceUnavailable
from api.domain.identity.auth import Principal
from api.domain.jobs import JobQueue
from api.domain.messaging.contacts import ContactSettingsSource
from api.domain.messaging.imports import (
    ContactImport,
    ContactImportPage,
    ContactImportRepository,
    EmptyImportFile,
    ImportFile,
    ImportFiles,
    ImportFormat,
    ImportResults,
    RowOutcome,
    RowResult,
    SheetReader,
)
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.import_rules import compile_mapping, parse_flag, parse_mapping
from api.usecases.messaging.inbox_reads import bounded

log = logging.getLogger(__name__)

IMPORT_JOB = "parley.contacts.import"
SWEEP_IMPORTS_JOB = "parley.contacts.import_sweep"
IMPORT_NOT_FOUND = "Contact import not found."
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ImportPolicy:
    """Imports' settings: the largest file, rows per chunk, how long a worker's hold on a
    running import lasts without progress, how long one run goes on before it hands over
    to a fresh job, and how many runs an import gets before it fails."""

    max_bytes: int
    batch_size: int
    lease_seconds: int
    run_seconds: float
    max_attempts: int


@dataclass(frozen=True)
class ImportUpload:
    """The upload: its filename, its bytes, and the form's text fields (`mapping`,
    `dry_run`), complete once the bytes have been read (they may follow the file)."""

    filename: str
    chunks: AsyncIterator[bytes]
    form: Mapping[str, str]


class StartContactImport:
    def __init__(
        self,
        imports: ContactImportRepository,
        files: ImportFiles,
        sheets: SheetReader,
        settings: ContactSettingsSource,
        jobs: JobQueue,
        auditor: Auditor,
        policy: ImportPolicy,
    ) -> None:
        self._imports = imports
        self._files = files
        self._sheets = sheets
        self._settings = settings
        self._jobs = jobs
        self._auditor = auditor
        self._policy = policy

    async def execute(self, principal: Principal, upload: ImportUpload) -> ContactImport:
        require_permission(principal, Permission.CONTACTS_WRITE)
        stored = await self._files.store(
            filename=upload.filename, chunks=upload.chunks, owner_id=principal.user_id
        )
        try:
            contact_import = await self._checked(upload, stored, principal)
        except BaseException:
            await self._files.remove(stored.file_id)
            raise
        await self._auditor.record(
            "contact_import.created", "contact_import", contact_import.id,
            actor_id=principal.user_id,
            changes=audit_extra(principal, {"filename": stored.filename, "size": stored.size,
                                            "dry_run": contact_import.dry_run}),
        )  # fmt: skip
        try:
            await self._jobs.enqueue(IMPORT_JOB, import_id=contact_import.id)
        except ServiceUnavailable:
            log.warning("the job queue is down: import %s waits for the sweeper",
                        contact_import.id)  # fmt: skip
        return contact_import

    async def _checked(
        self, upload: ImportUpload, stored: ImportFile, principal: Principal
    ) -> ContactImport:
        """The import of the stored file, once its form fields and header are checked."""
        xlsx = stored.content_type == XLSX_TYPE
        file_format = ImportFormat.XLSX if xlsx else ImportFormat.CSV
        mapping = parse_mapping(upload.form.get("mapping"))
        dry_run = parse_flag(upload.form.get("dry_run"), "dry_run")
        async with self._sheets.open(self._files.open(stored.file_id), file_format) as sheet:
            compile_mapping(mapping, sheet.header)
            if not await sheet.next_rows(1):
                raise EmptyImportFile("The file has a header but no rows.")
        return await self._imports.add(ContactImport(
            file_id=stored.file_id, filename=stored.filename, format=file_format,
            mapping=mapping, dry_run=dry_run, owner_id=principal.user_id,
            default_country=(await self._settings.current()).default_country,
            batch_size=self._policy.batch_size, created_at=stored_now(),
        ))  # fmt: skip


async def _existing(imports: ContactImportRepository, import_id: str) -> ContactImport:
    found = await imports.get(import_id)
    if found is None:
        raise NotFound(IMPORT_NOT_FOUND)
    return found


class GetContactImport:
    def __init__(self, imports: ContactImportRepository) -> None:
        self._imports = imports

    async def execute(self, principal: Principal, import_id: str) -> ContactImport:
        require_permission(principal, Permission.CONTACTS_READ)
        return await _existing(self._imports, import_id)


class ListContactImports:
    """Newest first, by cursor."""

    def __init__(self, imports: ContactImportRepository) -> None:
        self._imports = imports

    async def execute(
        self, principal: Principal, *, cursor: str | None = None, limit: int = 20
    ) -> ContactImportPage:
        require_permission(principal, Permission.CONTACTS_READ)
        return await self._imports.page(cursor=cursor, limit=bounded(limit))


class ReadImportErrors:
    """The rows that failed or were skipped, in row order (so far, while it runs)."""

    def __init__(self, imports: ContactImportRepository, results: ImportResults) -> None:
        self._imports = imports
        self._results = results

    async def execute(
        self, principal: Principal, import_id: str
    ) -> tuple[ContactImport, AsyncIterator[RowResult]]:
        require_permission(principal, Permission.CONTACTS_READ)
        found = await _existing(self._imports, import_id)
        assert found.id is not None  # noqa: S101 - stored
        return found, self._problems(found.id)

    async def _problems(self, import_id: str) -> AsyncIterator[RowResult]:
        async for chunk in self._results.chunks(import_id):
            for result in chunk:
                if result.outcome in (RowOutcome.FAILED, RowOutcome.SKIPPED):
                    yield result
