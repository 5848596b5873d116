"""The platform plane's tenant routes (`/api/v1/tenants`).

Platform admins only: a request that names a tenant (header or subdomain) is refused with
403 before authentication, and so is a tenant user's token. The one exception is the
public `GET /tenants/subdomain-availability`, which answers in any plane and ignores the
tenant named. With `MULTI_TENANCY_STRATEGY=none` these routes are not mounted at all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from api.domain.errors import Forbidden
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.tenancy import current_tenant_or_none
from api.domain.tenants.tenant import TenantStatus
from api.interfaces.http.auth import require_platform
from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.auth import TokensOut
from api.interfaces.http.schemas.paging import Page, PagingQuery
from api.interfaces.http.schemas.tenants import (
    ImpersonateIn,
    SubdomainAvailabilityOut,
    TenantCreatedOut,
    TenantCreateIn,
    TenantOut,
    TenantRejectIn,
    TenantSearchOut,
    TenantUpdateIn,
)
from api.usecases.tenants.change_tenant_status import ChangeTenantStatus
from api.usecases.tenants.check_subdomain_availability import CheckSubdomainAvailability
from api.usecases.tenants.create_tenant import CreateTenant
from api.usecases.tenants.get_tenant import GetTenant
from api.usecases.tenants.impersonate_tenant_user import ImpersonateTenantUser
from api.usecases.tenants.list_tenants import SEARCH_LIMIT, ListTenants
from api.usecases.tenants.signups import ReviewSignup
from api.usecases.tenants.update_tenant import UpdateTenant


async def platform_plane_only() -> None:
    """Refuse (403) any request that names a tenant: these routes live outside tenants."""
    if current_tenant_or_none() is not None:
        raise Forbidden("Tenant administration is only available in the platform plane.")


public = APIRouter(prefix="/tenants", tags=["tenants"])
admin = APIRouter(prefix="/tenants", tags=["tenants"], dependencies=[Depends(platform_plane_only)])

Reader = Annotated[Principal, require_platform(Permission.TENANTS_READ)]
Writer = Annotated[Principal, require_platform(Permission.TENANTS_WRITE)]
Impersonator = Annotated[Principal, require_platform(Permission.TENANTS_IMPERSONATE)]
TenantIdPath = Annotated[str, Path(description="The tenant's id (malformed ids are 404).")]

_READ = problem_responses(401, 403, 422)
_ONE = problem_responses(401, 403, 404, 422)


@public.get(
    "/subdomain-availability",
    summary="Is a subdomain available?",
    description=(
        "Public (no token), limited per client IP (429 with `Retry-After`). Never an error "
        "for a bad value: answers `available: false` with `reason` `invalid` (not a "
        "lower-case DNS label), `reserved` (`www`, `api`, `admin`, ...: never available) "
        "or `taken`. Works in the platform plane and ignores any tenant named."
    ),
    response_model_exclude_none=True,
    responses=problem_responses(422, 429),
    openapi_extra=NO_TENANT,
)
async def subdomain_availability(
    subdomain: Annotated[str, Query(min_length=1, max_length=255)],
    check: Annotated[CheckSubdomainAvailability, Inject(CheckSubdomainAvailability)],
) -> SubdomainAvailabilityOut:
    return SubdomainAvailabilityOut(**(await check.execute(subdomain)).model_dump())


@admin.get(
    "",
    summary="List tenants",
    description="`q`: case-insensitive prefix of the name or subdomain; `status`: one status.",
    responses=_READ,
    openapi_extra=NO_TENANT,
)
async def list_tenants(
    principal: Reader,
    listing: Annotated[ListTenants, Inject(ListTenants)],
    paging: PagingQuery,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: TenantStatus | None = None,
) -> Page[TenantOut]:
    found = await listing.execute(
        principal, query=q, status=status, page=paging.page, page_size=paging.page_size
    )
    return Page[TenantOut](
        items=[TenantOut.of(t) for t in found.items],
        total=found.total,
        page=paging.page,
        page_size=paging.page_size,
    )


@admin.post(
    "",
    status_code=201,
    summary="Create a tenant with its owner",
    description=(
        "Creates the tenant, its system roles (`owner`, `admin`, `member`) and its owner. "
        "Without `owner_password` the owner is invited by email (a single-use link). "
        "422 for an invalid or reserved subdomain, 409 when it is taken."
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
    openapi_extra=NO_TENANT,
)
async def create_tenant(
    body: TenantCreateIn,
    principal: Writer,
    create: Annotated[CreateTenant, Inject(CreateTenant)],
) -> TenantCreatedOut:
    return TenantCreatedOut.of_created(await create.execute(principal, **body.model_dump()))


@admin.get(
    "/search",
    summary="Find tenants by the start of their name",
    description="At most 20 tenants whose name or subdomain starts with `name`.",
    responses=_READ,
    openapi_extra=NO_TENANT,
)
async def search_tenants(
    principal: Reader,
    listing: Annotated[ListTenants, Inject(ListTenants)],
    name: Annotated[str, Query(min_length=1, max_length=200)],
) -> TenantSearchOut:
    found = await listing.execute(principal, query=name, page_size=SEARCH_LIMIT)
    return TenantSearchOut(items=[TenantOut.of(t) for t in found.items])


@admin.get("/{tenant_id}", summary="One tenant", responses=_ONE, openapi_extra=NO_TENANT)
async def get_tenant(
    tenant_id: TenantIdPath,
    principal: Reader,
    get: Annotated[GetTenant, Inject(GetTenant)],
) -> TenantOut:
    return TenantOut.of(await get.execute(principal, tenant_id))


@admin.put(
    "/{tenant_id}",
    summary="Edit a tenant",
    description=(
        "Changes the given fields (unknown fields are 422; the subdomain never changes). "
        "`status: suspended` refuses the tenant's requests at once; `active` lifts it."
    ),
    responses=_ONE,
    openapi_extra=NO_TENANT,
)
async def update_tenant(
    tenant_id: TenantIdPath,
    body: TenantUpdateIn,
    principal: Writer,
    update: Annotated[UpdateTenant, Inject(UpdateTenant)],
) -> TenantOut:
    changes = body.model_dump(exclude_none=True)
    return TenantOut.of(await update.execute(principal, tenant_id, **changes))


@admin.delete(
    "/{tenant_id}",
    status_code=204,
    summary="Suspend a tenant",
    description=(
        "Suspends the tenant: its requests are refused (403 `tenant_suspended`) at once; "
        "`PUT` with `status: active` lifts it. Nothing is deleted here: purging a tenant's "
        "data is a separate background job."
    ),
    responses=_ONE,
    openapi_extra=NO_TENANT,
)
async def suspend_tenant(
    tenant_id: TenantIdPath,
    principal: Writer,
    change_status: Annotated[ChangeTenantStatus, Inject(ChangeTenantStatus)],
) -> Response:
    await change_status.execute(principal, tenant_id, TenantStatus.SUSPENDED)
    return Response(status_code=204)


@admin.post(
    "/{tenant_id}/approve",
    summary="Approve a pending sign-up",
    description=(
        "The tenant becomes active at once and its owner is told by email. 409 when it is "
        "not pending (approved, rejected or created by an admin) or its owner has not "
        "confirmed their email address yet. Pending tenants: `GET /tenants?status=pending`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
    openapi_extra=NO_TENANT,
)
async def approve_tenant(
    tenant_id: TenantIdPath,
    principal: Writer,
    review: Annotated[ReviewSignup, Inject(ReviewSignup)],
) -> TenantOut:
    return TenantOut.of(await review.approve(principal, tenant_id))


@admin.post(
    "/{tenant_id}/reject",
    summary="Reject a pending sign-up",
    description=(
        "The tenant becomes `rejected`: it serves nothing (its subdomain stays taken) and "
        "its owner is told by email, with the `reason` when given. 409 when it is not "
        "pending."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
    openapi_extra=NO_TENANT,
)
async def reject_tenant(
    tenant_id: TenantIdPath,
    principal: Writer,
    review: Annotated[ReviewSignup, Inject(ReviewSignup)],
    body: Annotated[TenantRejectIn | None, Body()] = None,
) -> TenantOut:
    reason = body.reason if body is not None else None
    return TenantOut.of(await review.reject(principal, tenant_id, reason))


@admin.post(
    "/{tenant_id}/impersonate",
    summary="Act as one of a tenant's users",
    description=(
        "A token pair for that user in that tenant (use it with the tenant's header or "
        "subdomain), holding the user's permissions; the access token carries `act` = the "
        "platform admin, and `/auth/me` shows `impersonated_by`. Audited in the tenant and "
        "in the platform plane. 404 for an unknown tenant or an unknown or inactive user; "
        "403 `tenant_suspended` for a suspended tenant."
    ),
    responses=_ONE,
    openapi_extra=NO_TENANT,
)
async def impersonate(
    tenant_id: TenantIdPath,
    body: ImpersonateIn,
    principal: Impersonator,
    use_case: Annotated[ImpersonateTenantUser, Inject(ImpersonateTenantUser)],
) -> TokensOut:
    tokens = await use_case.execute(principal, tenant_id, body.user_id)
    return TokensOut(**tokens.model_dump())


router = APIRouter()
router.include_router(public)  # first: its static path must win over `/{tenant_id}`
router.include_router(admin)
