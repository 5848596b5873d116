"""Platform analytics (`/api/v1/analytics/platform`): platform admins only."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.domain.analytics.platform import PlatformAnalytics, PlatformDay, PlatformTotals
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require_platform
from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.tenants.platform import platform_plane_only
from api.usecases.analytics.get_platform_analytics import GetPlatformAnalytics

router = APIRouter(
    prefix="/analytics", tags=["analytics"], dependencies=[Depends(platform_plane_only)]
)

Reader = Annotated[Principal, require_platform(Permission.PLATFORM_ANALYTICS_READ)]


class PlatformAnalyticsOut(BaseModel):
    since: date = Field(description="The first UTC day.")
    until: date = Field(description="The last UTC day (included).")
    computed_at: str
    cached: bool = Field(description="True when served from the cache (see `computed_at`).")
    days: list[PlatformDay] = Field(description="Every UTC day of the range, zero when idle.")
    totals: PlatformTotals

    @classmethod
    def of(cls, answer: PlatformAnalytics, cached: bool) -> PlatformAnalyticsOut:
        return cls(
            since=answer.since, until=answer.until, computed_at=answer.computed_at.isoformat(),
            cached=cached, days=answer.days, totals=answer.totals,
        )  # fmt: skip


@router.get(
    "/platform",
    summary="The platform's figures by day",
    description=(
        "Platform admins (`platform_analytics:read`), in the platform plane. For each UTC "
        "day of `[from, to]` (dates, both included; default: the last 30 days to today): "
        "`tenants_new` (created that day), `tenants_active` (tenants with a message either "
        "way or AI tokens that day), `messages_inbound`, `messages_outbound` (private "
        "notes aside), `ai_tokens`, `storage_bytes` (files stored that day); `totals` adds "
        "them up (`tenants_active`: distinct tenants) with every tenant now by status "
        "(the statuses that exist) and all stored bytes now. Cached "
        "`ANALYTICS_CACHE_SECONDS` per range (`cached`, `computed_at`). 422 "
        "`invalid_window` when `to` is before `from`, `window_too_long` past "
        "`PLATFORM_ANALYTICS_MAX_DAYS` (366)."
    ),
    responses=problem_responses(401, 403, 422, 503),
    openapi_extra=NO_TENANT,
)
async def platform_analytics(
    principal: Reader,
    use_case: Annotated[GetPlatformAnalytics, Inject(GetPlatformAnalytics)],
    since: Annotated[date | None, Query(alias="from", description="First day (UTC).")] = None,
    until: Annotated[date | None, Query(alias="to", description="Last day, included.")] = None,
) -> PlatformAnalyticsOut:
    answer, cached = await use_case.execute(principal, since=since, until=until)
    return PlatformAnalyticsOut.of(answer, cached)
