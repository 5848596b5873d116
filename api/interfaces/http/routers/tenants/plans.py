"""Plans (`/api/v1/plans`) and a tenant's plan (`PUT /api/v1/tenants/{id}/plan`): the
platform plane, `plans:manage`. A request naming a tenant is refused with 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require_platform
from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.tenants.platform import platform_plane_only
from api.interfaces.http.schemas.paging import Page, PagingQuery
from api.interfaces.http.schemas.plans import (
    AssignPlanIn,
    PlanCreateIn,
    PlanOut,
    PlanUpdateIn,
    TenantPlanOut,
)
from api.usecases.tenants.plans import (
    AssignPlan,
    CreatePlan,
    DeletePlan,
    GetPlan,
    ListPlans,
    UpdatePlan,
)

router = APIRouter(tags=["plans"], dependencies=[Depends(platform_plane_only)])

Manager = Annotated[Principal, require_platform(Permission.PLANS_MANAGE)]
PlanIdPath = Annotated[str, Path(description="The plan's id (malformed ids are 404).")]
_ONE = problem_responses(401, 403, 404, 422)


@router.get(
    "/plans",
    summary="List plans",
    description="Ordered by name. Platform admins (`plans:manage`).",
    responses=problem_responses(401, 403, 422),
    openapi_extra=NO_TENANT,
)
async def list_plans(
    principal: Manager,
    listing: Annotated[ListPlans, Inject(ListPlans)],
    paging: PagingQuery,
) -> Page[PlanOut]:
    found = await listing.execute(principal, page=paging.page, page_size=paging.page_size)
    return Page[PlanOut](
        items=[PlanOut.of(p) for p in found.items],
        total=found.total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.post(
    "/plans",
    status_code=201,
    summary="Create a plan",
    description=(
        "Limits left out or null are unlimited. `is_default: true` makes it the plan of "
        "every tenant without one (and takes the flag from any other plan). 409 when the "
        "name is taken (regardless of case). Audited as `plan.created`."
    ),
    responses=problem_responses(401, 403, 409, 422),
    openapi_extra=NO_TENANT,
)
async def create_plan(
    body: PlanCreateIn,
    principal: Manager,
    create: Annotated[CreatePlan, Inject(CreatePlan)],
) -> PlanOut:
    plan = await create.execute(
        principal, name=body.name, limits=body.limits.to_limits(), is_default=body.is_default
    )
    return PlanOut.of(plan)


@router.get("/plans/{plan_id}", summary="One plan", responses=_ONE, openapi_extra=NO_TENANT)
async def get_plan(
    plan_id: PlanIdPath, principal: Manager, get: Annotated[GetPlan, Inject(GetPlan)]
) -> PlanOut:
    return PlanOut.of(await get.execute(principal, plan_id))


@router.put(
    "/plans/{plan_id}",
    summary="Change a plan",
    description=(
        "Changes the given fields (`limits` is the whole set: a limit left out is "
        "unlimited); tenants on the plan follow at once. Audited as `plan.updated`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
    openapi_extra=NO_TENANT,
)
async def update_plan(
    plan_id: PlanIdPath,
    body: PlanUpdateIn,
    principal: Manager,
    update: Annotated[UpdatePlan, Inject(UpdatePlan)],
) -> PlanOut:
    plan = await update.execute(
        principal, plan_id, name=body.name,
        limits=body.limits.to_limits() if body.limits is not None else None,
        is_default=body.is_default,
    )  # fmt: skip
    return PlanOut.of(plan)


@router.delete(
    "/plans/{plan_id}",
    status_code=204,
    summary="Delete a plan",
    description="409 while a tenant is on it. Audited as `plan.deleted`.",
    responses=problem_responses(401, 403, 404, 409),
    openapi_extra=NO_TENANT,
)
async def delete_plan(
    plan_id: PlanIdPath, principal: Manager, delete: Annotated[DeletePlan, Inject(DeletePlan)]
) -> Response:
    await delete.execute(principal, plan_id)
    return Response(status_code=204)


@router.put(
    "/tenants/{tenant_id}/plan",
    summary="Put a tenant on a plan",
    description=(
        "`plan_id` null puts it back on the default plan. Its limits apply at once. 404 "
        "for an unknown tenant or plan. Audited in the tenant as `tenant.plan_changed`."
    ),
    responses=_ONE,
    openapi_extra=NO_TENANT,
)
async def assign_plan(
    tenant_id: Annotated[str, Path(description="The tenant's id.")],
    body: AssignPlanIn,
    principal: Manager,
    assign: Annotated[AssignPlan, Inject(AssignPlan)],
) -> TenantPlanOut:
    tenant = await assign.execute(principal, tenant_id, body.plan_id)
    assert tenant.id is not None  # noqa: S101 - stored
    return TenantPlanOut(tenant_id=tenant.id, plan_id=tenant.plan_id)
