"""Contact imports: a CSV or XLSX file of customers, its columns mapped to contact fields,
read by a job that upserts each row by phone number and records one result per row.

An import is `queued` when its file is stored, `running` while a worker holds its lease,
then `done` (every row has its result) or `failed` (the file could not be read at all).
Rows are read in fixed chunks (`batch_size`); each chunk's results are stored as one
document, unique per (tenant, import, first row), before the chunk's contacts are written,
and `processed_rows` moves on only after both: a worker that dies mid-chunk leaves the
chunk to whoever takes the import next, which finds the results already stored and writes
the same contacts again (upserts by phone, so nothing is duplicated).

Row numbers are the spreadsheet's: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from api.domain.errors import InvalidInput
from api.domain.imports import EmptyImportFile as EmptyImportFile
from api.domain.imports import ImportFile as ImportFile
from api.domain.imports import ImportFiles as ImportFiles
from api.domain.imports import ImportFormat as ImportFormat
from api.domain.imports import InvalidImportFile as InvalidImportFile
from api.domain.imports import Sheet as Sheet
from api.domain.imports import SheetReader as SheetReader


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RowOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    SKIPPED = "skipped"
    FAILED = "failed"


class RowResult(BaseModel):
    """What became of one row: for a skipped or failed row, the column, the value and why."""

    model_config = ConfigDict(frozen=True)

    row: int
    outcome: RowOutcome
    column: str | None = None
    value: str | None = None
    reason: str | None = None


class ImportCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    @classmethod
    def of(cls, results: Sequence[RowResult]) -> ImportCounts:
        counts = dict.fromkeys(RowOutcome, 0)
        for result in results:
            counts[result.outcome] += 1
        return cls(**{outcome.value: n for outcome, n in counts.items()})


class ContactImport(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    file_id: str
    filename: str
    format: ImportFormat
    mapping: dict[str, str]
    dry_run: bool = False
    default_country: str | None = None  # the profile's, when the import was started
    batch_size: int = Field(ge=1)
    status: ImportStatus = ImportStatus.QUEUED
    total_rows: int | None = None  # known once the job has counted them
    processed_rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None  # why a failed import could not go on
    owner_id: str | None = None  # who started it
    attempts: int = 0  # how many times a worker took it
    lease_until: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ContactImportPage(BaseModel):
    items: list[ContactImport]
    next_cursor: str | None = None


class ContactImportRepository(Protocol):
    """The current tenant's imports. A worker holds an import by a lease (`lease_token`);
    every progress write is conditional on still holding it."""

    async def add(self, contact_import: ContactImport) -> ContactImport: ...

    async def get(self, import_id: str) -> ContactImport | None: ...

    async def page(self, *, cursor: str | None, limit: int) -> ContactImportPage:
        """Newest first, by cursor (`InvalidInput` for a cursor this list did not give)."""
        ...

    async def claim(
        self, import_id: str, lease_token: str, *, now: datetime, lease_until: datetime
    ) -> ContactImport | None:
        """Take a queued import, or a running one whose lease has expired: it becomes
        `running`, held by `lease_token` until `lease_until`. None when it is finished,
        held by a live lease, or absent."""
        ...

    async def set_total(self, import_id: str, lease_token: str, total_rows: int) -> bool: ...

    async def checkpoint(
        self,
        import_id: str,
        lease_token: str,
        *,
        processed_before: int,
        processed_after: int,
        counts: ImportCounts,
        lease_until: datetime,
    ) -> bool:
        """Move `processed_rows` from `processed_before` to `processed_after`, add `counts`
        and renew the lease, atomically; False when the lease is lost or the rows were
        counted already."""
        ...

    async def release(self, import_id: str, lease_token: str) -> None:
        """Give the lease up (the import stays `running`, free to be taken at once)."""
        ...

    async def finish(
        self,
        import_id: str,
        lease_token: str,
        *,
        status: ImportStatus,
        at: datetime,
        error: str | None = None,
        total_rows: int | None = None,
    ) -> bool:
        """End the import (`done` or `failed`) if the lease is still held; `total_rows`
        when the rows read are the exact count."""
        ...


class StaleImport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    import_id: str


class StaleImports(Protocol):
    """Platform-level: imports in every tenant that no worker is moving (queued since
    before `queued_before`, or running with a lease expired at `now`)."""

    async def due(
        self, *, now: datetime, queued_before: datetime, limit: int
    ) -> list[StaleImport]: ...


class ImportResults(Protocol):
    """Each chunk's row results, stored once (unique per import and first row)."""

    async def save(
        self, import_id: str, first_row: int, results: list[RowResult]
    ) -> list[RowResult]:
        """Store the chunk's results, or, when they were stored already (a chunk taken
        again after a crash), the stored ones: what counts is what was stored first."""
        ...

    def chunks(self, import_id: str) -> AsyncIterator[list[RowResult]]:
        """The stored results in row order, a chunk at a time."""
        ...


class KnownContact(BaseModel):
    """What an import needs of a live contact with a given number."""

    model_config = ConfigDict(frozen=True)

    phone: str
    tags: frozenset[str] = frozenset()
    attribute_keys: frozenset[str] = frozenset()


class ContactUpsert(BaseModel):
    """One row's change of the contact with `phone` (created from `import` when missing).
    Fields left None stay as they are; `attributes` merge; `tags` are added. `new`: no
    live contact had the number when the chunk was read (written as an insert, the
    cheaper write; an upsert when the number was taken meanwhile)."""

    model_config = ConfigDict(frozen=True)

    phone: str
    new: bool = False
    name: str | None = None
    email: str | None = None
    language: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class ImportContacts(Protocol):
    """The contacts side of an import, in bulk, within the current tenant."""

    async def known(self, phones: Sequence[str]) -> dict[str, KnownContact]:
        """The live contacts with these numbers, by number."""
        ...

    async def upsert(self, changes: Sequence[ContactUpsert], at: datetime) -> None:
        """Apply the changes in order (a later change of one number after an earlier), each
        creating its contact (source `import`, not opted out) when none has the number.
        Repeating them changes nothing more: a consent is never touched."""
        ...


class InvalidImportMapping(InvalidInput):
    """The mapping names an unknown field, a column the header does not have, a field
    twice, or no phone column: the field `errors` say which."""

    code = "invalid_import_mapping"
    title = "Invalid column mapping"
