"""The tenant's audit log (`/api/v1/audit-logs`): read-only, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.domain.audit import AuditQuery
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.audit import AuditEntryOut, AuditPageOut
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.identity.search_audit_log import SearchAuditLog

router = APIRouter(prefix="/audit-logs", tags=["audit"])


@router.get(
    "",
    summary="Search the audit log",
    description=(
        "Needs `audit:read`. Who did what to which resource, when and from where; newest "
        "first. `action` is exact (`user.created`) or a family (`user.*`); `since` is "
        "inclusive and `until` exclusive, both with a UTC offset. Entries cannot be edited "
        "or deleted."
    ),
    responses=problem_responses(401, 403, 422),
)
async def search_audit_log(
    principal: Annotated[Principal, require(Permission.AUDIT_READ)],
    paging: PagingQuery,
    use_case: Annotated[SearchAuditLog, Inject(SearchAuditLog)],
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> AuditPageOut:
    if since is not None and until is not None and since > until:
        raise InvalidInput(
            "`since` is after `until`.", [FieldProblem(("query", "since"), "after `until`")]
        )
    entries, total = await use_case.execute(
        AuditQuery(
            actor_id=actor_id,
            action=action,
            resource_type=resource_type,
            since=since,
            until=until,
            skip=(paging.page - 1) * paging.page_size,
            limit=paging.page_size,
        )
    )
    return AuditPageOut(
        items=[AuditEntryOut.of(e) for e in entries],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )
