"""Departments (`/api/v1/departments`): members, SLA targets and business hours of the
teams that conversations, leads, tickets and callback requests are routed to. Reading
needs `crm:read`; changes need `departments:manage`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.departments import (
    DepartmentIn,
    DepartmentOut,
    DepartmentPageOut,
    DepartmentUpdateIn,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.crm.departments import (
    CreateDepartment,
    DeleteDepartment,
    GetDepartment,
    ListDepartments,
    UpdateDepartment,
)

router = APIRouter(prefix="/departments", tags=["departments"])

Reader = Annotated[Principal, require(Permission.CRM_READ)]
Manager = Annotated[Principal, require(Permission.DEPARTMENTS_MANAGE)]
RULES = (
    " Names (1 to 100 characters) are unique in the tenant regardless of case (409 "
    "`department_name_taken`); members must be active users of the tenant (422 "
    "`invalid_department_members`), at most 500; SLA targets are 1 to 525600 minutes or "
    "null; business hours as in the inbox settings (422 `invalid_timezone`, "
    "`invalid_time_span`, `overlapping_time_spans`)."
)
LIMITED = (
    " A user whose roles are all limited to their departments (`departments_only`) sees "
    "only the departments they are a member of."
)


@router.post(
    "",
    status_code=201,
    summary="Create a department",
    description="Needs `departments:manage`. Audited `department.created`." + RULES,
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_department(
    body: Annotated[DepartmentIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateDepartment, Inject(CreateDepartment)],
) -> DepartmentOut:
    department = await use_case.execute(
        principal,
        name=body.name,
        member_ids=body.members,
        sla=body.sla.to_domain(),
        business_hours=body.business_hours.to_domain() if body.business_hours else None,
    )
    return DepartmentOut.of(department)


@router.get(
    "",
    summary="List departments",
    description="Needs `crm:read`. By name." + LIMITED,
    responses=problem_responses(401, 403, 422, 503),
)
async def list_departments(
    principal: Reader,
    paging: PagingQuery,
    use_case: Annotated[ListDepartments, Inject(ListDepartments)],
) -> DepartmentPageOut:
    found = await use_case.execute(principal, page=paging.page, page_size=paging.page_size)
    return DepartmentPageOut.of(found, paging.page, paging.page_size)


@router.get(
    "/{department_id}",
    summary="Read a department",
    description=(
        "Needs `crm:read`. Another tenant's department is 404 `department_not_found`." + LIMITED
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_department(
    department_id: str,
    principal: Reader,
    use_case: Annotated[GetDepartment, Inject(GetDepartment)],
) -> DepartmentOut:
    return DepartmentOut.of(await use_case.execute(principal, department_id))


@router.patch(
    "/{department_id}",
    summary="Change a department",
    description=(
        "Needs `departments:manage`. The fields sent replace the stored ones "
        "(`business_hours: null`: always open). Membership changes apply to "
        "department-limited users at once. Audited `department.updated`." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_department(
    department_id: str,
    body: Annotated[DepartmentUpdateIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateDepartment, Inject(UpdateDepartment)],
) -> DepartmentOut:
    return DepartmentOut.of(await use_case.execute(principal, department_id, body.to_change()))


@router.delete(
    "/{department_id}",
    status_code=204,
    summary="Delete a department",
    description=(
        "Needs `departments:manage`. Refused (409 `department_in_use`) while conversations, "
        "leads, tickets or callback requests are routed to it. Audited `department.deleted`."
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def delete_department(
    department_id: str,
    principal: Manager,
    use_case: Annotated[DeleteDepartment, Inject(DeleteDepartment)],
) -> Response:
    await use_case.execute(principal, department_id)
    return Response(status_code=204)
