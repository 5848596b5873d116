"""The import job: read the stored file a chunk at a time and settle every row once, so a
worker killed at any point leaves nothing lost or doubled (see `api.domain.messaging.
imports`).

`RunContactImport` takes the import by a lease (a queued one, or a running one whose
holder stopped renewing), counts the rows once, then for each chunk after
`processed_rows`: reads the rows (`import_rules`), looks up the numbers, stores the
chunk's results (or finds them stored by an earlier run: those count), writes the
contacts (bulk upserts by number, in row order; nothing in a dry run), then moves
`processed_rows` and the counts on, renewing the lease, in one conditional update. A run
that has gone on for `IMPORT_RUN_SECONDS` hands over to a fresh job (so no run meets the
job time limit); one that fails releases its lease for the retry. An import taken
`IMPORT_MAX_ATTEMPTS` times fails ("gave up"); one whose file cannot be read fails with
the reason. `SweepContactImports` (beat) queues the imports nobody is moving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from api.domain.clock import Clock
from api.domain.errors import NotFound, ServiceUnavailable
from api.domain.jobs import JobQueue
from api.domain.messaging.imports import (
    ContactImport,
    ContactImportRepository,
    ImportContacts,
    ImportCounts,
    ImportFiles,
    ImportResults,
    ImportStatus,
    InvalidImportFile,
    InvalidImportMapping,
    RowResult,
    Sheet,
    SheetReader,
    StaleImports,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.kernel.import_files import discard_import_file
from api.usecases.messaging.contact_imports import IMPORT_JOB, ImportPolicy
from api.usecases.messaging.import_rules import (
    ParsedRow,
    RowReader,
    compile_mapping,
    plan_chunk,
)

log = logging.getLogger(__name__)

SWEEP_BATCH = 100
FIRST_ROW = 2  # the header is row 1
GAVE_UP = "The import was started {n} times without finishing; it was given up."


class RunContactImport:
    def __init__(
        self,
        imports: ContactImportRepository,
        results: ImportResults,
        contacts: ImportContacts,
        files: ImportFiles,
        sheets: SheetReader,
        jobs: JobQueue,
        clock: Clock,
        policy: ImportPolicy,
    ) -> None:
        self._imports = imports
        self._results = results
        self._contacts = contacts
        self._files = files
        self._sheets = sheets
        self._jobs = jobs
        self._clock = clock
        self._policy = policy

    def _lease_end(self) -> timedelta:
        return timedelta(seconds=self._policy.lease_seconds)

    async def execute(self, import_id: str) -> ImportStatus | None:
        """The import's status after this run; None when another run holds it, it is
        finished already, or it is gone."""
        token = uuid4().hex
        now = self._clock.now()
        taken = await self._imports.claim(import_id, token, now=now,
                                          lease_until=now + self._lease_end())  # fmt: skip
        if taken is None:
            return None
        if taken.attempts > self._policy.max_attempts:
            await self._finish(taken, token, ImportStatus.FAILED,
                               GAVE_UP.format(n=self._policy.max_attempts))  # fmt: skip
            return ImportStatus.FAILED
        try:
            return await self._run(taken, token)
        except (InvalidImportFile, InvalidImportMapping) as exc:
            await self._finish(taken, token, ImportStatus.FAILED, exc.detail)
            return ImportStatus.FAILED
        except NotFound:
            await self._finish(taken, token, ImportStatus.FAILED, "The import's file is gone.")
            return ImportStatus.FAILED
        except BaseException:
            await self._imports.release(import_id, token)  # the retry may take it at once
            raise

    async def _run(self, taken: ContactImport, token: str) -> ImportStatus:
        assert taken.id is not None  # noqa: S101 - stored
        started = self._clock.now()
        async with self._sheets.open(self._files.open(taken.file_id), taken.format) as sheet:
            reader = RowReader(compile_mapping(taken.mapping, sheet.header),
                               taken.default_country)  # fmt: skip
            if taken.total_rows is None:
                await self._imports.set_total(taken.id, token, await sheet.count_rows())
            seen: set[str] = set()
            read = await self._skip_done(sheet, taken, reader, seen)
            # The next chunk is read and checked while this one is written (the database
            # wait hides the parsing); the sheet is read by one task at a time.
            ahead = asyncio.ensure_future(_next_chunk(sheet, reader, taken.batch_size, read))
            try:
                while (chunk := await ahead) is not None:
                    read = chunk.first - FIRST_ROW + chunk.size
                    ahead = asyncio.ensure_future(
                        _next_chunk(sheet, reader, taken.batch_size, read)
                    )
                    if not await self._chunk(taken, token, chunk, seen):
                        return ImportStatus.RUNNING  # the lease went to another run
                    if self._clock.now() - started > timedelta(seconds=self._policy.run_seconds):
                        await self._imports.release(taken.id, token)
                        await self._jobs.enqueue(IMPORT_JOB, import_id=taken.id)
                        return ImportStatus.RUNNING
            finally:
                await asyncio.wait([ahead])  # done before the sheet closes
                if not ahead.cancelled():
                    ahead.exception()  # retrieved: an error of a chunk never used is moot
        await self._finish(taken, token, ImportStatus.DONE, total=read)
        return ImportStatus.DONE

    async def _skip_done(
        self, sheet: Sheet, taken: ContactImport, reader: RowReader, seen: set[str]
    ) -> int:
        """Read past the rows an earlier run settled; a dry run remembers their numbers."""
        read = 0
        while read < taken.processed_rows:
            rows = await sheet.next_rows(min(taken.batch_size, taken.processed_rows - read))
            if not rows:
                break
            read += len(rows)
            if taken.dry_run:
                seen.update(p for p in map(reader.phone, rows) if p)
        return read

    async def _chunk(self, taken: ContactImport, token: str, chunk: _Chunk, seen: set[str]) -> bool:
        assert taken.id is not None  # noqa: S101 - stored
        phones = _phones(chunk.parsed)
        known = await self._contacts.known(phones)
        results, changes = plan_chunk(chunk.parsed, known, seen if taken.dry_run else None)
        stored = await self._results.save(taken.id, chunk.first, results)
        if not taken.dry_run and changes:
            await self._contacts.upsert(changes, self._clock.now())
        if taken.dry_run:
            seen.update(phones)
        done = chunk.first - FIRST_ROW
        return await self._imports.checkpoint(
            taken.id, token, processed_before=done, processed_after=done + chunk.size,
            counts=ImportCounts.of(stored),
            lease_until=self._clock.now() + self._lease_end(),
        )  # fmt: skip

    async def _finish(
        self,
        taken: ContactImport,
        token: str,
        status: ImportStatus,
        error: str | None = None,
        *,
        total: int | None = None,
    ) -> None:
        assert taken.id is not None  # noqa: S101 - stored
        if await self._imports.finish(taken.id, token, status=status, at=self._clock.now(),
                                      error=error, total_rows=total):  # fmt: skip
            await discard_import_file(self._files, taken.file_id, taken.id)
        log.info("contact import %s %s", taken.id, status.value)


@dataclass(frozen=True)
class _Chunk:
    first: int  # its first row's number
    size: int
    parsed: list[ParsedRow | RowResult]


async def _next_chunk(sheet: Sheet, reader: RowReader, size: int, read: int) -> _Chunk | None:
    """The next rows after the `read` ones, read and checked in a worker thread."""
    rows = await sheet.next_rows(size)
    if not rows:
        return None
    first = read + FIRST_ROW

    def check() -> list[ParsedRow | RowResult]:
        return [reader.read(first + n, cells) for n, cells in enumerate(rows)]

    return _Chunk(first=first, size=len(rows), parsed=await asyncio.to_thread(check))


def _phones(parsed: Sequence[object]) -> list[str]:
    phones: list[str] = []
    for item in parsed:
        phone = getattr(item, "phone", None)
        if isinstance(phone, str) and phone not in phones:
            phones.append(phone)
    return phones


class SweepContactImports:
    """Periodic (beat, `IMPORT_SWEEP_INTERVAL_SECONDS`): queue again, in their tenants,
    the imports no worker is moving: running with an expired lease (the worker died) or
    queued for longer than a lease (the job was lost). Returns how many were queued."""

    def __init__(
        self, stale: StaleImports, jobs: JobQueue, clock: Clock, policy: ImportPolicy
    ) -> None:
        self._stale = stale
        self._jobs = jobs
        self._clock = clock
        self._policy = policy

    async def execute(self) -> int:
        now = self._clock.now()
        due = await self._stale.due(
            now=now, queued_before=now - timedelta(seconds=self._policy.lease_seconds),
            limit=SWEEP_BATCH,
        )  # fmt: skip
        queued = 0
        for item in due:
            with tenant_context(TenantId(item.tenant_id)):
                try:
                    await self._jobs.enqueue(IMPORT_JOB, import_id=item.import_id)
                except ServiceUnavailable:
                    break
                queued += 1
        if queued:
            log.info("queued %d stalled contact imports", queued)
        return queued
