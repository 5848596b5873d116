"""Lead imports: a CSV or XLSX file of leads, one lead per row, read by a job that records
a result for every row (created, skipped or failed with the column and the reason).

Smaller than the contact imports on purpose: the columns are fixed (no mapping), a file
holds at most `MAX_IMPORT_ROWS` rows (counted at upload), and the rows' results live in
the import itself. The job settles rows a chunk at a time: each row's lead is stored
under an id derived from the import and the row (`import_lead_id`), so a chunk settled
again after a crash finds its leads instead of making them twice; then the chunk's
results are appended and `processed_rows` moved on in one conditional update (only from
the count it read), so no row is lost or counted twice, whoever runs it.

Columns (the header, any case, in any order; others are ignored): `title` (required),
`contact_id` or `phone` (the contact: by id, or by its E.164 number), `value` and
`currency`, `stage` (any stage: imports bring existing pipelines), `source` (default
`import`), `owner_email` (an active user of the tenant), `department_id`, `notes`.
Row numbers are the spreadsheet's (the header is row 1).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import InvalidInput
from api.domain.imports import ImportFiles, ImportFormat

MAX_IMPORT_ROWS = 2000
COLUMNS = (
    "title", "contact_id", "phone", "value", "currency", "stage", "source", "owner_email",
    "department_id", "notes",
)  # fmt: skip


class LeadImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class LeadRowOutcome(StrEnum):
    CREATED = "created"
    SKIPPED = "skipped"
    FAILED = "failed"


class LeadRowResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int
    outcome: LeadRowOutcome
    lead_id: str | None = None
    column: str | None = None
    reason: str | None = None


class LeadImport(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    file_id: str
    filename: str
    format: ImportFormat
    status: LeadImportStatus = LeadImportStatus.QUEUED
    total_rows: int
    processed_rows: int = 0
    created: int = 0
    skipped: int = 0
    failed: int = 0
    rows: list[LeadRowResult] = Field(default_factory=list)
    error: str | None = None
    owner_id: str | None = None  # who started it
    departments: list[str] | None = None  # the starter's department scope, if limited
    attempts: int = 0  # how many runs took it
    touched_at: datetime | None = None  # its last progress (queued, started, a chunk)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class LeadImportPage(BaseModel):
    items: list[LeadImport]
    next_cursor: str | None = None


class LeadImportRepository(Protocol):
    """The current tenant's lead imports."""

    async def add(self, lead_import: LeadImport) -> LeadImport: ...

    async def get(self, import_id: str) -> LeadImport | None: ...

    async def page(self, *, cursor: str | None, limit: int) -> LeadImportPage:
        """Newest first, without the rows' results (`InvalidInput` for a bad cursor)."""
        ...

    async def start(self, import_id: str, at: datetime) -> LeadImport | None:
        """Mark a queued or running import running (first start time kept), count the
        attempt, touch it; None when it is finished or gone."""
        ...

    async def checkpoint(
        self,
        import_id: str,
        *,
        processed_before: int,
        results: list[LeadRowResult],
        at: datetime,
    ) -> bool:
        """Append `results`, add their counts, move `processed_rows` on by their number and
        touch it, only while `processed_rows` is `processed_before`; False when another
        run did."""
        ...

    async def finish(
        self, import_id: str, status: LeadImportStatus, at: datetime, error: str | None = None
    ) -> None: ...


class StaleLeadImport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    import_id: str


class StaleLeadImports(Protocol):
    """Platform-level: imports in every tenant, queued or running, with no progress since
    `touched_before` (the job was lost, or its worker died)."""

    async def due(self, *, touched_before: datetime, limit: int) -> list[StaleLeadImport]: ...


class TooManyImportRows(InvalidInput):
    code = "too_many_import_rows"
    title = "Too many rows"


class MissingImportColumn(InvalidInput):
    code = "invalid_import_columns"
    title = "Missing columns"


class LeadImportFiles(ImportFiles, Protocol):
    """The lead imports' files: stored like contact imports' (the tenant's storage,
    sniffed as CSV or XLSX, size limited by `IMPORT_MAX_BYTES`), kept as `lead_import`."""
