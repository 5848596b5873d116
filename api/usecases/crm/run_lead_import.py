"""The lead import job: read the stored file a chunk at a time and settle every row once
(see `api.domain.crm.lead_imports` for why nothing is lost or made twice).

A row is, in this order: skipped when every cell is empty ("blank row"); failed, naming
its column, when a field is not valid (the rules of a lead made by hand: title, amount
and currency, stage, source, notes), its contact is unknown (`contact_id`, or `phone`
read as E.164 with no default country), `owner_email` is not an active user of the
tenant, or `department_id` is not a department (within the starter's departments when
they are limited); else it creates the lead (stage as given, `new` by default; source
`import` by default), audited `lead.created` with the import's id. Imported leads do not
email their owners (see `lead_notices`).

A run that finds the import started more than `MAX_ATTEMPTS` times fails it ("given
up"); `SweepLeadImports` queues again the imports nobody moves.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from datetime import timedelta

from api.common.locales import e164
from api.domain.clock import Clock
from api.domain.crm.lead_imports import (
    LeadImport,
    LeadImportFiles,
    LeadImportRepository,
    LeadImportStatus,
    LeadRowOutcome,
    LeadRowResult,
    StaleLeadImports,
)
from api.domain.crm.leads import Lead, LeadContact, LeadRepository, LeadSource, LeadStage
from api.domain.departments import department_scope
from api.domain.errors import Forbidden, InvalidInput, NotFound, ServiceUnavailable
from api.domain.identity.users import UserRepository
from api.domain.imports import InvalidImportFile, SheetReader
from api.domain.jobs import JobQueue
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.crm.lead_imports import LEAD_IMPORT_JOB, header_index
from api.usecases.crm.lead_rules import LeadFields, LeadReferences
from api.usecases.crm.leads import created_changes, new_lead
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.clock import stored_time
from api.usecases.kernel.import_files import discard_import_file

log = logging.getLogger(__name__)

CHUNK = 50
FIRST_ROW = 2  # the header is row 1
FILE_GONE = "The import's file is gone."
MAX_ATTEMPTS = 5
GAVE_UP = f"The import was started {MAX_ATTEMPTS} times without finishing; it was given up."
STALE_AFTER = timedelta(minutes=5)
SWEEP_BATCH = 100


def import_lead_id(import_id: str, row: int) -> str:
    """The id of the lead row `row` of import `import_id` makes (an ObjectId's 24 hex)."""
    return hashlib.sha256(f"lead-import:{import_id}:{row}".encode()).hexdigest()[:24]


class _RowFailed(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@contextlib.contextmanager
def _scope_of(lead_import: LeadImport) -> Iterator[None]:
    if lead_import.departments is None:
        yield
        return
    with department_scope(frozenset(lead_import.departments)):
        yield


class RunLeadImport:
    def __init__(
        self,
        imports: LeadImportRepository,
        leads: LeadRepository,
        references: LeadReferences,
        users: UserRepository,
        files: LeadImportFiles,
        sheets: SheetReader,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._imports = imports
        self._leads = leads
        self._references = references
        self._users = users
        self._files = files
        self._sheets = sheets
        self._auditor = auditor
        self._clock = clock

    async def execute(self, import_id: str) -> LeadImportStatus | None:
        """The import's status after this run; None when it is finished or gone."""
        taken = await self._imports.start(import_id, self._clock.now())
        if taken is None:
            return None
        if taken.attempts > MAX_ATTEMPTS:
            return await self._end(taken, LeadImportStatus.FAILED, GAVE_UP)
        try:
            with _scope_of(taken):
                return await self._run(taken)
        except InvalidImportFile as exc:
            return await self._end(taken, LeadImportStatus.FAILED, exc.detail)
        except NotFound:
            return await self._end(taken, LeadImportStatus.FAILED, FILE_GONE)

    async def _end(
        self, taken: LeadImport, status: LeadImportStatus, error: str | None = None
    ) -> LeadImportStatus:
        """The import ended: recorded, then its file deleted."""
        assert taken.id is not None  # noqa: S101 - stored
        await self._imports.finish(taken.id, status, self._clock.now(), error)
        await discard_import_file(self._files, taken.file_id, taken.id)
        log.info("lead import %s %s", taken.id, status.value)
        return status

    async def _run(self, taken: LeadImport) -> LeadImportStatus:
        assert taken.id is not None  # noqa: S101 - stored
        async with self._sheets.open(self._files.open(taken.file_id), taken.format) as sheet:
            index = header_index(sheet.header)
            read = 0
            while read < taken.processed_rows:  # settled by an earlier run
                skipped = await sheet.next_rows(min(CHUNK, taken.processed_rows - read))
                if not skipped:
                    break
                read += len(skipped)
            while rows := await sheet.next_rows(CHUNK):
                first = read + FIRST_ROW
                results = [await self._row(taken, first + n, cells, index)
                           for n, cells in enumerate(rows)]  # fmt: skip
                if not await self._imports.checkpoint(
                    taken.id, processed_before=read, results=results, at=self._clock.now()
                ):
                    return LeadImportStatus.RUNNING  # another run settled these rows
                read += len(rows)
        return await self._end(taken, LeadImportStatus.DONE)

    async def _row(
        self, taken: LeadImport, row: int, cells: list[str], index: dict[str, int]
    ) -> LeadRowResult:
        values = {name: cells[position] for name, position in index.items()}
        if not any(cells):
            return LeadRowResult(row=row, outcome=LeadRowOutcome.SKIPPED, reason="blank row")
        try:
            lead = await self._lead(taken, values)
        except _RowFailed as failed:
            return LeadRowResult(row=row, outcome=LeadRowOutcome.FAILED, column=failed.column,
                                 reason=failed.reason)  # fmt: skip
        assert taken.id is not None  # noqa: S101 - stored
        stored, new = await self._leads.add_with_id(import_lead_id(taken.id, row), lead)
        if new:
            await self._auditor.record(
                "lead.created", "lead", stored.id, actor_id=taken.owner_id,
                changes={**created_changes(stored), "import_id": taken.id, "row": row},
            )  # fmt: skip
        return LeadRowResult(row=row, outcome=LeadRowOutcome.CREATED, lead_id=stored.id)

    async def _lead(self, taken: LeadImport, values: dict[str, str]) -> Lead:
        contact = await self._contact(values)
        stage = values.get("stage", "").strip().lower()
        if stage and stage not in LeadStage.__members__.values():
            raise _RowFailed("stage", "not a stage (new, contacted, qualified, proposal, "
                                      "won, lost)")  # fmt: skip
        owner_id = await self._owner(values.get("owner_email", ""))
        department_id = values.get("department_id") or None
        fields = LeadFields(
            contact_id=contact.id, title=values.get("title"), value=values.get("value") or None,
            currency=(values.get("currency") or "").upper() or None,
            stage=LeadStage(stage) if stage else None, source=values.get("source") or None,
            owner_id=owner_id, department_id=department_id, notes=values.get("notes") or None,
        )  # fmt: skip
        try:
            lead = new_lead(
                fields, taken.owner_id, stored_time(self._clock.now()), LeadSource.IMPORT
            )
            await self._references.department(department_id)
        except InvalidInput as exc:
            column = str(exc.problems[0].loc[-1]) if exc.problems else "title"
            reason = exc.problems[0].msg if exc.problems else exc.detail
            raise _RowFailed(column, reason) from None
        except Forbidden:
            raise _RowFailed("department_id", "not one of your departments") from None
        return lead

    async def _contact(self, values: dict[str, str]) -> LeadContact:
        contact_id = values.get("contact_id", "")
        if contact_id:
            found = await self._references.find_contact(contact_id)
            if found is None:
                raise _RowFailed("contact_id", "unknown contact")
            return found
        phone = values.get("phone", "")
        if not phone:
            raise _RowFailed("phone", "no contact_id or phone")
        number = e164(phone)
        if number is None:
            raise _RowFailed("phone", "not a valid phone number (E.164, such as +14155550123)")
        by_phone = await self._references.contact_by_phone(number)
        if by_phone is None:
            raise _RowFailed("phone", "no contact has this number")
        return by_phone

    async def _owner(self, email: str) -> str | None:
        if not email:
            return None
        user = await self._users.get_by_email(email.strip().lower())
        if user is None or not user.is_active or user.id is None:
            raise _RowFailed("owner_email", "not an active user of this tenant")
        return user.id


class SweepLeadImports:
    """Periodic (beat, `IMPORT_SWEEP_INTERVAL_SECONDS`, as the contact imports' sweep):
    queue again, in their tenants, the imports queued or running with no progress for
    `STALE_AFTER` (the job was lost, or its worker died mid-way; the run goes on where the
    last one stopped, and one still alive meanwhile is harmless: see the module's
    docstring). An import started `MAX_ATTEMPTS` times fails. Returns how many were queued."""

    def __init__(self, stale: StaleLeadImports, jobs: JobQueue, clock: Clock) -> None:
        self._stale = stale
        self._jobs = jobs
        self._clock = clock

    async def execute(self) -> int:
        due = await self._stale.due(touched_before=self._clock.now() - STALE_AFTER,
                                    limit=SWEEP_BATCH)  # fmt: skip
        queued = 0
        for item in due:
            with tenant_context(TenantId(item.tenant_id)):
                try:
                    await self._jobs.enqueue(LEAD_IMPORT_JOB, import_id=item.import_id)
                except ServiceUnavailable:
                    break
                queued += 1
        if queued:
            log.info("queued %d stalled lead imports", queued)
        return queued
