"""The tenant the request runs for (public: web apps show its name before sign-in), and its
company profile (`/tenant/profile`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.tenants.profile import TenantProfile
from api.domain.tenants.tenant import Tenant, TenantStatus
from api.interfaces.http.auth import CurrentPrincipal, require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.plans import TenantUsageOut
from api.usecases.tenants.get_current_tenant import GetCurrentTenant
from api.usecases.tenants.tenant_profile import GetTenantProfile, ProfileInput, UpdateTenantProfile
from api.usecases.tenants.usage import GetTenantUsage

router = APIRouter(tags=["tenancy"])


class CurrentTenantOut(BaseModel):
    id: str
    name: str
    subdomain: str
    status: TenantStatus
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> CurrentTenantOut:
        assert tenant.id is not None  # noqa: S101 - stored tenants always have an id
        return cls(
            id=tenant.id,
            name=tenant.name,
            subdomain=tenant.subdomain,
            status=tenant.status,
            created_at=tenant.created_at,
        )


@router.get(
    "/tenant",
    summary="The current tenant",
    description=(
        "The tenant named by the request (`X-Tenant-ID` header, subdomain, or the default "
        "tenant, by `MULTI_TENANCY_STRATEGY`). 400 `tenant_required` when none is named."
    ),
)
async def current_tenant(
    get_tenant: Annotated[GetCurrentTenant, Inject(GetCurrentTenant)],
) -> CurrentTenantOut:
    return CurrentTenantOut.of(await get_tenant.execute())


class TenantProfileIn(ProfileInput):
    """The whole profile: a field left out takes its default (`timezone` `UTC`, the rest
    null or empty)."""


class TenantProfileOut(BaseModel):
    display_name: str | None = Field(description="Shown in emails; null: the tenant's name.")
    logo_file_id: str | None
    brand_color: str | None = Field(description="`#RRGGBB`.")
    timezone: str = Field(description="IANA name; schedules are set in it.")
    default_country: str | None = Field(
        description="ISO 3166-1 alpha-2; national phone numbers are read in it."
    )
    locale: str | None
    email_footer: str | None
    opt_out_keywords: list[str] = Field(
        description="Words that, sent alone by a customer, opt them out (STOP always does)."
    )
    opt_in_keywords: list[str] = Field(
        description="Words that, sent alone, opt them back in (START always does)."
    )
    updated_at: datetime | None = Field(description="Null until first saved.")

    @classmethod
    def of(cls, profile: TenantProfile) -> TenantProfileOut:
        return cls(**profile.model_dump())


@router.get(
    "/tenant/profile",
    summary="The company profile",
    description=(
        "Any signed-in user of the tenant. The defaults (`timezone` `UTC`, the rest null "
        "or empty) until an admin saves one."
    ),
    responses=problem_responses(400, 401, 403, 503),
)
async def get_profile(
    principal: CurrentPrincipal,
    use_case: Annotated[GetTenantProfile, Inject(GetTenantProfile)],
) -> TenantProfileOut:
    return TenantProfileOut.of(await use_case.execute(principal))


@router.put(
    "/tenant/profile",
    summary="Replace the company profile",
    description=(
        "Needs `tenant:update`. The whole profile (a field left out takes its default). "
        "`default_country` must be an ISO 3166-1 alpha-2 code with a phone numbering plan "
        "(upper-cased), `timezone` an IANA name, `brand_color` `#RRGGBB`, `logo_file_id` an "
        "image (png, jpeg, gif, webp) uploaded to this tenant's files; keywords are "
        "1-30 characters, at most 20 per list, compared without case or extra spaces, and "
        "none may be in both lists. Invalid fields: 422 with `errors`. Audited as "
        "`tenant.profile_updated`. Emails sent for the tenant carry `display_name` (sender "
        "name, subject, greeting), `brand_color` and `email_footer`; phone numbers are "
        "read in `default_country`, schedules set in `timezone`."
    ),
    responses=problem_responses(400, 401, 403, 422, 503),
)
async def put_profile(
    body: Annotated[TenantProfileIn, Body()],
    principal: Annotated[Principal, require(Permission.TENANT_UPDATE)],
    use_case: Annotated[UpdateTenantProfile, Inject(UpdateTenantProfile)],
) -> TenantProfileOut:
    return TenantProfileOut.of(await use_case.execute(principal, body))


@router.get(
    "/tenant/usage",
    summary="The tenant's usage against its plan",
    description=(
        "Needs `tenant:read` (owners and admins). Each figure is `{used, limit}` (limit "
        "null: unlimited). Periods are UTC: messages count in the calendar month, AI "
        "tokens in the day; seats (active users), channels (not disconnected) and storage "
        "are what the tenant holds now. Past a limit the action that needs more is 402 "
        "`plan_limit_reached`."
    ),
    responses=problem_responses(400, 401, 403, 503),
)
async def get_usage(
    principal: Annotated[Principal, require(Permission.TENANT_READ)],
    use_case: Annotated[GetTenantUsage, Inject(GetTenantUsage)],
) -> TenantUsageOut:
    return TenantUsageOut.of(await use_case.execute(principal))
