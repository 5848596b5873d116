"""Contact exports (`/api/v1/contacts/exports`): a job writes the contacts to a CSV file
in the tenant's storage; its state and signed link are read here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.contacts import ContactExportIn, ContactExportOut
from api.usecases.messaging.export_contacts import (
    ExportFilters,
    ExportView,
    GetContactExport,
    RequestContactExport,
)

router = APIRouter(prefix="/contacts/exports", tags=["contacts"])

Exporter = Annotated[Principal, require(Permission.CONTACTS_EXPORT)]
WHY = (
    " Needs `contacts:export` (owners and admins; not agents): an export carries every "
    "contact's personal data out of Parley."
)
CSV_NOTE = (
    " The CSV (UTF-8 with a byte order mark, CRLF) has the columns `id, name, phone, "
    "wa_id, email, language, tags` (joined with `;`), `opted_out` (`true`/`false`), "
    "`opted_out_at, source, created_at` (ISO 8601 UTC), then `attribute:<key>` for each "
    "attribute key in use, sorted. A cell a spreadsheet would run as a formula (starting "
    "with `=`, `+`, `-`, `@`, tab or CR, and not a plain number) starts with `'`."
)


@router.post(
    "",
    status_code=202,
    summary="Export contacts to CSV (a job)",
    description=(
        "Queues a job that writes the live contacts to a CSV file in the tenant's "
        "storage. The body takes the filters of `GET /contacts` (`q`, `tag`, "
        "`segment_id`, `opted_out`; none: every contact); a segment's filter is fixed "
        "now. Poll `GET /contacts/exports/{id}` for the state and the link. Another "
        "tenant's segment is 404; a broker that is down 503. Audited as "
        "`contact.export_requested`." + WHY + CSV_NOTE
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def request_export(
    principal: Exporter,
    use_case: Annotated[RequestContactExport, Inject(RequestContactExport)],
    body: Annotated[ContactExportIn | None, Body()] = None,
) -> ContactExportOut:
    filters = ExportFilters.model_validate((body or ContactExportIn()).model_dump())
    export = await use_case.execute(principal, filters)
    return ContactExportOut.of(ExportView(export=export))


@router.get(
    "/{export_id}",
    summary="Read a contact export",
    description=(
        "The state (`queued`, `running`, `done`, `failed` with a `reason`), the rows "
        "written, and when `done` a signed link to the CSV (fresh on every read, valid "
        "`SIGNED_URL_TTL_SECONDS`; it needs no token) until `expires_at` "
        "(`CONTACT_EXPORT_TTL_HOURS` after it finished), then `url` is null. Another "
        "tenant's export is 404." + WHY
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_export(
    export_id: str,
    principal: Exporter,
    use_case: Annotated[GetContactExport, Inject(GetContactExport)],
) -> ContactExportOut:
    return ContactExportOut.of(await use_case.execute(principal, export_id))
