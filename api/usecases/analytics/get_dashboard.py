"""The tenant dashboard (`GET /api/v1/analytics/dashboard`, `analytics:read`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.domain.analytics.dashboard import (
    CampaignPerformanceSource,
    CrmFiguresSource,
    Dashboard,
    DashboardCache,
    InboxFigures,
    InvalidWindow,
    TenantTimeZone,
    Window,
    WindowTooLong,
)
from api.domain.clock import Clock
from api.domain.departments import current_department_scope
from api.domain.errors import FieldProblem
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_time

DEFAULT_DAYS = 30
MAX_DAYS = 366
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AnalyticsPolicy:
    """`cache_seconds`: how long an answer is served again (0: never cached)."""

    cache_seconds: int = 60


@dataclass(frozen=True)
class DashboardAnswer:
    dashboard: Dashboard
    cached: bool


def local_days(window: Window) -> list[str]:
    """The tenant's local days the window touches, in order."""
    zone = ZoneInfo(window.timezone)
    first = window.since.astimezone(zone).date()
    last = (window.until - timedelta(microseconds=1)).astimezone(zone).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _aware(at: datetime, zone: ZoneInfo, field: str = "since") -> datetime:
    """`at` as UTC; without an offset it is read in the tenant's zone. `InvalidWindow`
    outside the years 1970 to 9998 (where every zone's arithmetic holds)."""
    try:
        found = (at if at.tzinfo is not None else at.replace(tzinfo=zone)).astimezone(UTC)
    except (OverflowError, ValueError):
        found = None
    if found is None or not EARLIEST <= found < LATEST:
        raise InvalidWindow(
            "Dates must fall between 1970 and 9998.",
            [FieldProblem(("query", field), "out of range")],
        )
    return found


def resolve_window(
    since: datetime | None, until: datetime | None, *, now: datetime, zone: ZoneInfo
) -> Window:
    """The window asked for, with the defaults: until now, and since the start of the
    local day 29 days before `until`'s (30 local days), or 30 days before a given `until`.
    `InvalidWindow` unless `until` is after `since`; `WindowTooLong` past 366 days."""
    end = _aware(until, zone, "until") if until is not None else now
    if since is not None:
        start = _aware(since, zone)
    elif until is not None:
        start = end - timedelta(days=DEFAULT_DAYS)
    else:
        first: date = end.astimezone(zone).date() - timedelta(days=DEFAULT_DAYS - 1)
        start = _aware(datetime.combine(first, time()), zone)
    if end <= start:
        raise InvalidWindow(
            "`until` must be after `since`.", [FieldProblem(("query", "until"), "not after since")]
        )
    if end - start > timedelta(days=MAX_DAYS):
        raise WindowTooLong(
            f"A dashboard covers at most {MAX_DAYS} days.",
            [FieldProblem(("query", "since"), f"more than {MAX_DAYS} days before until")],
        )
    return Window(since=start, until=end, timezone=zone.key)


class GetDashboard:
    """The current tenant's dashboard for a window (`analytics:read`).

    Rules: the window is `[since, until)`, by default the last 30 local days up to now; a
    datetime without an offset is read in the tenant's time zone (company profile); until
    after since (422 `invalid_window`), at most 366 days (422 `window_too_long`). Days
    are the tenant's local days. The answer is computed by the database (one aggregation
    per figure) and kept `cache_seconds` per tenant, time zone and the parameters as
    given (so the default window is one entry); a cached answer says so, with the time
    it was computed."""

    def __init__(
        self,
        figures: InboxFigures,
        campaigns: CampaignPerformanceSource,
        crm: CrmFiguresSource,
        zone: TenantTimeZone,
        cache: DashboardCache,
        clock: Clock,
        policy: AnalyticsPolicy,
    ) -> None:
        self._figures = figures
        self._campaigns = campaigns
        self._crm = crm
        self._zone = zone
        self._cache = cache
        self._clock = clock
        self._policy = policy

    async def execute(
        self, principal: Principal, *, since: datetime | None, until: datetime | None
    ) -> DashboardAnswer:
        require_permission(principal, Permission.ANALYTICS_READ)
        zone = _zone(await self._zone.name())
        now = stored_time(self._clock.now())
        window = resolve_window(since, until, now=now, zone=zone)
        scope = current_department_scope()  # a limited caller's CRM figures are theirs
        key = "|".join(
            (zone.key, *(_aware(at, zone).isoformat() if at else "-" for at in (since, until)),
             "all" if scope is None else ",".join(sorted(scope)))
        )  # fmt: skip
        seconds = self._policy.cache_seconds
        if seconds > 0:
            hit = await self._cache.get(key)
            if hit is not None:
                return DashboardAnswer(hit, cached=True)
        dashboard = await self._compute(window, now)
        if seconds > 0:
            await self._cache.put(key, dashboard, seconds)
        return DashboardAnswer(dashboard, cached=False)

    async def _compute(self, window: Window, now: datetime) -> Dashboard:
        messages, conversations, agents, campaigns, crm = await asyncio.gather(
            self._figures.messages(window),
            self._figures.conversations(window),
            self._figures.agents(window),
            self._campaigns.performance(window.since, window.until),
            self._crm.figures(window),
        )
        return Dashboard(
            window=window, computed_at=now, days=local_days(window), messages=messages,
            conversations=conversations, agents=agents, campaigns=campaigns, crm=crm,
        )  # fmt: skip
