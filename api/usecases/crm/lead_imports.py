"""Lead imports over the API (`crm:write` to start one, `crm:read` to read them).

Starting: the file is stored (see `LeadImportFiles`), its header checked (a `title`
column, and a `contact_id` or `phone` column: else 422 `invalid_import_columns`), its
rows counted (none: 422 `empty_import_file`; more than `MAX_IMPORT_ROWS`: 422
`too_many_import_rows`), then the import is queued (202) for the job (`RunLeadImport`).
The stored file is removed again when any check fails. A caller limited to departments
starts an import that can only put leads in those departments (the job runs in the
caller's scope). When the job queue is down the import is marked failed and the answer
is 503. Audited: `lead_import.created`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from api.domain.crm.lead_imports import (
    COLUMNS,
    MAX_IMPORT_ROWS,
    LeadImport,
    LeadImportFiles,
    LeadImportPage,
    LeadImportRepository,
    LeadImportStatus,
    MissingImportColumn,
    TooManyImportRows,
)
from api.domain.departments import current_department_scope
from api.domain.errors import FieldProblem, InvalidInput, NotFound, ServiceUnavailable
from api.domain.identity.auth import Principal
from api.domain.imports import EmptyImportFile, ImportFile, ImportFormat, SheetReader
from api.domain.jobs import JobQueue
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now

log = logging.getLogger(__name__)

LEAD_IMPORT_JOB = "parley.crm.leads.import"
SWEEP_LEAD_IMPORTS_JOB = "parley.crm.leads.import_sweep"
IMPORT_NOT_FOUND = "Lead import not found."
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
QUEUE_DOWN = "The job queue was unavailable; start the import again."


@dataclass(frozen=True)
class LeadUpload:
    filename: str
    chunks: AsyncIterator[bytes]


def header_index(header: list[str]) -> dict[str, int]:
    """The known columns' positions (by name, any case; the first of a repeated one);
    `MissingImportColumn` without `title`, or without both `contact_id` and `phone`."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        key = name.strip().lower()
        if key in COLUMNS and key not in index:
            index[key] = position
    problems = []
    if "title" not in index:
        problems.append(FieldProblem(("file", "header"), "no `title` column"))
    if "contact_id" not in index and "phone" not in index:
        problems.append(FieldProblem(("file", "header"), "no `contact_id` or `phone` column"))
    if problems:
        raise MissingImportColumn("The file's header lacks required columns.", problems)
    return index


class StartLeadImport:
    def __init__(
        self,
        imports: LeadImportRepository,
        files: LeadImportFiles,
        sheets: SheetReader,
        jobs: JobQueue,
        auditor: Auditor,
    ) -> None:
        self._imports = imports
        self._files = files
        self._sheets = sheets
        self._jobs = jobs
        self._auditor = auditor

    async def execute(self, principal: Principal, upload: LeadUpload) -> LeadImport:
        require_permission(principal, Permission.CRM_WRITE)
        stored = await self._files.store(
            filename=upload.filename, chunks=upload.chunks, owner_id=principal.user_id
        )
        try:
            lead_import = await self._checked(stored, principal)
        except BaseException:
            await self._files.remove(stored.file_id)
            raise
        assert lead_import.id is not None  # noqa: S101 - stored
        await self._auditor.record(
            "lead_import.created", "lead_import", lead_import.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"filename": stored.filename,
                                            "rows": lead_import.total_rows}),
        )  # fmt: skip
        try:
            await self._jobs.enqueue(LEAD_IMPORT_JOB, import_id=lead_import.id)
        except ServiceUnavailable:
            await self._imports.finish(
                lead_import.id, LeadImportStatus.FAILED, stored_now(), QUEUE_DOWN
            )
            raise
        return lead_import

    async def _checked(self, stored: ImportFile, principal: Principal) -> LeadImport:
        xlsx = stored.content_type == XLSX_TYPE
        file_format = ImportFormat.XLSX if xlsx else ImportFormat.CSV
        async with self._sheets.open(self._files.open(stored.file_id), file_format) as sheet:
            header_index(sheet.header)
            total = await sheet.count_rows()
        if total == 0:
            raise EmptyImportFile("The file has a header but no rows.")
        if total > MAX_IMPORT_ROWS:
            raise TooManyImportRows(
                f"The file has {total} rows; an import takes at most {MAX_IMPORT_ROWS}."
            )
        scope = current_department_scope()
        return await self._imports.add(LeadImport(
            file_id=stored.file_id, filename=stored.filename, format=file_format,
            total_rows=total, owner_id=principal.user_id,
            departments=sorted(scope) if scope is not None else None, created_at=stored_now(),
        ))  # fmt: skip


class GetLeadImport:
    """One import with every row's result."""

    def __init__(self, imports: LeadImportRepository) -> None:
        self._imports = imports

    async def execute(self, principal: Principal, import_id: str) -> LeadImport:
        require_permission(principal, Permission.CRM_READ)
        found = await self._imports.get(import_id)
        if found is None:
            raise NotFound(IMPORT_NOT_FOUND)
        return found


class ListLeadImports:
    """Newest first, by cursor (without the rows' results)."""

    def __init__(self, imports: LeadImportRepository) -> None:
        self._imports = imports

    async def execute(
        self, principal: Principal, *, cursor: str | None = None, limit: int = 20
    ) -> LeadImportPage:
        require_permission(principal, Permission.CRM_READ)
        if not 1 <= limit <= 100:
            raise InvalidInput("limit must be within 1..100")
        return await self._imports.page(cursor=cursor, limit=limit)
