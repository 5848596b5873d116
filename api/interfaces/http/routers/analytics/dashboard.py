"""The tenant dashboard (`/api/v1/analytics/dashboard`, `analytics:read`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.analytics import DashboardOut
from api.usecases.analytics.get_dashboard import GetDashboard

router = APIRouter(prefix="/analytics", tags=["analytics"])

Reader = Annotated[Principal, require(Permission.ANALYTICS_READ)]


@router.get(
    "/dashboard",
    summary="The tenant's dashboard",
    description=(
        "Needs `analytics:read` (owners and admins have it). For the window `[since, "
        "until)` (ISO 8601 datetimes; without an offset, read in the tenant's time zone "
        "from the company profile; default: the last 30 local days up to now): messages "
        "by local day, direction and status (private notes aside); conversations opened "
        "and resolved by day and in total; first response time (the customer's first "
        "message to the first agent reply after it) and resolution time (opened to "
        "resolved), count, median and p90 in seconds (nearest rank); agents' load "
        "(unresolved conversations assigned now, conversations they resolved and "
        "messages they sent in the window); campaigns' delivery and read rates. "
        "Computed by the database and cached `ANALYTICS_CACHE_SECONDS` per tenant and "
        "parameters (`cached`, `computed_at`). 422 `invalid_window` when `until` is not "
        "after `since`, `window_too_long` past 366 days. The CRM pipeline is not part of "
        "it yet."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def dashboard(
    principal: Reader,
    use_case: Annotated[GetDashboard, Inject(GetDashboard)],
    since: Annotated[datetime | None, Query(description="Start, included.")] = None,
    until: Annotated[datetime | None, Query(description="End, excluded (default: now).")] = None,
) -> DashboardOut:
    return DashboardOut.of(await use_case.execute(principal, since=since, until=until))
