"""Contact imports (`/api/v1/contacts/imports`): upload a CSV or XLSX file with a column
mapping, watch the job, read the report of the rows it refused.

The upload is multipart (`file`, `mapping`, `dry_run`), read by the route itself once the
caller is authenticated (as the files feature's uploads: streamed to the tenant's
storage, never whole in memory), bounded by `IMPORT_MAX_BYTES`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.domain.identity.auth import Principal
from api.domain.messaging.imports import ContactImport, RowResult
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.multipart import read_file_part
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.contact_imports import ContactImportOut, ContactImportPageOut
from api.usecases.messaging.contact_imports import (
    GetContactImport,
    ImportUpload,
    ListContactImports,
    ReadImportErrors,
    StartContactImport,
)
from api.usecases.messaging.inbox_reads import MAX_PAGE

router = APIRouter(prefix="/contacts/imports", tags=["contacts"])

Reader = Annotated[Principal, require(Permission.CONTACTS_READ)]
Writer = Annotated[Principal, require(Permission.CONTACTS_WRITE)]
ERRORS_ROUTE = "contact_import_errors"
REPORT_HEADER = ("row", "column", "value", "reason")
# A cell a spreadsheet would run as a formula (CSV injection): shown as text instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "title": "ContactImportUpload",
                    "type": "object",
                    "required": ["file", "mapping"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "The CSV or XLSX file (the first worksheet).",
                        },
                        "mapping": {
                            "type": "string",
                            "description": (
                                'JSON `{"column header": field}`; a field is `name`, '
                                "`phone`, `email`, `language`, `tags`, `attribute:<key>` "
                                "or `ignore`."
                            ),
                            "examples": [
                                '{"Name": "name", "Mobile": "phone", "Plan": '
                                '"attribute:plan", "Labels": "tags"}'
                            ],
                        },
                        "dry_run": {
                            "type": "boolean",
                            "default": False,
                            "description": "Check and count only; write no contact.",
                        },
                    },
                }
            }
        },
    }
}
START_DESCRIPTION = (
    "Needs `contacts:write`. Multipart: `file` (CSV in any common encoding, or XLSX; the "
    "type is sniffed from the content; at most `IMPORT_MAX_BYTES`, else 413), `mapping` "
    "(JSON `{column header: field}`: `name`, `phone`, `email`, `language`, `tags` (split "
    "on `,` and `;`), `attribute:<key>`, `ignore`; columns not named are ignored) and "
    "`dry_run`. Exactly one column is the phone. Answers 202 with the queued import; a "
    "job then upserts each row by phone number (E.164; national numbers in the company "
    "profile's `default_country`): a number a live contact has updates it (name, email, "
    "language replaced when given, attributes merged, tags added; consent untouched), "
    "else a contact is created with source `import`; a number seen again later in the "
    "file updates what the earlier row made. A dry run checks and counts (would create, "
    "would update) and writes no contact. Problems (422): `invalid_import_file` (not "
    "CSV or XLSX, unreadable), `empty_import_file` (no header or no rows), "
    "`invalid_import_mapping` (unknown field, a column not in the header, a field twice, "
    "no phone column; `errors` names each). Audited as `contact_import.created`."
)


def _errors_url(request: Request, contact_import: ContactImport) -> str:
    return str(request.url_for(ERRORS_ROUTE, import_id=contact_import.id))


@router.post(
    "",
    status_code=202,
    summary="Import contacts from a CSV or XLSX file",
    description=START_DESCRIPTION,
    responses=problem_responses(401, 403, 413, 422, 503),
    openapi_extra=_UPLOAD_BODY,
)
@body_limit(BodyLimit.IMPORT)
async def start_import(
    request: Request,
    principal: Writer,
    use_case: Annotated[StartContactImport, Inject(StartContactImport)],
) -> ContactImportOut:
    part = await read_file_part(request)
    async with aclosing(part.chunks):
        upload = ImportUpload(filename=part.filename, chunks=part.chunks, form=part.fields)
        contact_import = await use_case.execute(principal, upload)
    return ContactImportOut.of(contact_import, _errors_url(request, contact_import))


@router.get(
    "",
    summary="List contact imports",
    description="Needs `contacts:read`. Newest first, by cursor (a cursor this list did "
    "not give is 422).",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_imports(
    request: Request,
    principal: Reader,
    use_case: Annotated[ListContactImports, Inject(ListContactImports)],
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="`next_cursor` of before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")] = 20,
) -> ContactImportPageOut:
    page = await use_case.execute(principal, cursor=cursor, limit=limit)
    return ContactImportPageOut(
        items=[ContactImportOut.of(i, _errors_url(request, i)) for i in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{import_id}",
    summary="Read a contact import (progress)",
    description=(
        "Needs `contacts:read`. While it runs, `processed_rows` (of `total_rows`) and the "
        "counts move on chunk by chunk. Another tenant's import is 404."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_import(
    import_id: str,
    request: Request,
    principal: Reader,
    use_case: Annotated[GetContactImport, Inject(GetContactImport)],
) -> ContactImportOut:
    contact_import = await use_case.execute(principal, import_id)
    return ContactImportOut.of(contact_import, _errors_url(request, contact_import))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_line(values: tuple[object, ...]) -> str:
    """One CSV line, every cell guarded against formula injection."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return out.getvalue()


async def _report(results: AsyncIterator[RowResult]) -> AsyncIterator[str]:
    yield csv_line(REPORT_HEADER)
    async for result in results:
        yield csv_line((result.row, result.column, result.value, result.reason))


@router.get(
    "/{import_id}/errors",
    name=ERRORS_ROUTE,
    summary="The report of an import's failed and skipped rows (CSV)",
    description=(
        "Needs `contacts:read`. `text/csv`: `row,column,value,reason`, one line per row "
        "that failed or was skipped (blank), in row order; rows are numbered as in the "
        "file, the header being row 1. While the import runs, the rows settled so far. A "
        "cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed "
        "with `'` so that no spreadsheet runs it as a formula."
    ),
    response_class=StreamingResponse,
    responses={**problem_responses(401, 403, 404, 503), 200: {"content": {"text/csv": {}}}},
)
async def import_errors(
    import_id: str,
    principal: Reader,
    use_case: Annotated[ReadImportErrors, Inject(ReadImportErrors)],
) -> StreamingResponse:
    found, results = await use_case.execute(principal, import_id)
    return StreamingResponse(
        _report(results),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{found.id}-errors.csv"',
            "Cache-Control": "private, no-store",
        },
    )
