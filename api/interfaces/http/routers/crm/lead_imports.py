"""Lead imports (`/api/v1/leads/imports`): upload a CSV or XLSX file of leads, then read
each row's result once the job has settled it."""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.domain.crm.lead_imports import MAX_IMPORT_ROWS
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.multipart import read_file_part
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.crm_leads import LeadImportOut, LeadImportPageOut
from api.usecases.crm.lead_imports import (
    GetLeadImport,
    LeadUpload,
    ListLeadImports,
    StartLeadImport,
)

router = APIRouter(prefix="/leads/imports", tags=["leads"])

Reader = Annotated[Principal, require(Permission.CRM_READ)]
Writer = Annotated[Principal, require(Permission.CRM_WRITE)]
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "title": "LeadImportUpload",
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "The CSV or XLSX file (the first worksheet).",
                        },
                    },
                }
            }
        },
    }
}
START_DESCRIPTION = (
    "Needs `crm:write`. Multipart `file`: CSV (any common encoding) or XLSX, at most "
    f"`IMPORT_MAX_BYTES` (else 413) and {MAX_IMPORT_ROWS} rows (else 422 "
    "`too_many_import_rows`). Columns by header name, any case, any order (others are "
    "ignored): `title` (required), `contact_id` or `phone` (E.164; the contact must exist), "
    "`value`, `currency`, `stage` (any stage; default `new`), `source` (default "
    "`import`), `owner_email` (an active user), `department_id`, `notes`. Answers 202 with "
    "the queued import; a job then creates one lead per row, with the same rules as "
    "`POST /leads`, and records every row's result (`created` with `lead_id`, `skipped` "
    "for a blank row, `failed` with `column` and `reason`). Imported leads do not email "
    "their owners. Problems (422): `invalid_import_file`, `empty_import_file`, "
    "`invalid_import_columns` (no `title`, or neither `contact_id` nor `phone`). 503 when "
    "the job queue is down (the import is then `failed`). Audited `lead_import.created`, "
    "and each lead `lead.created`."
)


@router.post(
    "",
    status_code=202,
    summary="Import leads from a CSV or XLSX file",
    description=START_DESCRIPTION,
    responses=problem_responses(401, 403, 413, 422, 503),
    openapi_extra=_UPLOAD_BODY,
)
@body_limit(BodyLimit.IMPORT)
async def start_lead_import(
    request: Request,
    principal: Writer,
    use_case: Annotated[StartLeadImport, Inject(StartLeadImport)],
) -> LeadImportOut:
    part = await read_file_part(request)
    async with aclosing(part.chunks):
        upload = LeadUpload(filename=part.filename, chunks=part.chunks)
        return LeadImportOut.of(await use_case.execute(principal, upload))


@router.get(
    "",
    summary="List lead imports",
    description="Needs `crm:read`. Newest first, by cursor, without the rows' results.",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_lead_imports(
    principal: Reader,
    use_case: Annotated[ListLeadImports, Inject(ListLeadImports)],
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="`next_cursor` of before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
) -> LeadImportPageOut:
    page = await use_case.execute(principal, cursor=cursor, limit=limit)
    return LeadImportPageOut(
        items=[LeadImportOut.of(i) for i in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{import_id}",
    summary="Read a lead import with every row's result",
    description="Needs `crm:read`. While it runs, `processed_rows` and `rows` grow chunk "
    "by chunk. Another tenant's import is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_lead_import(
    import_id: str,
    principal: Reader,
    use_case: Annotated[GetLeadImport, Inject(GetLeadImport)],
) -> LeadImportOut:
    return LeadImportOut.of(await use_case.execute(principal, import_id))
