"""Platform analytics (`GET /api/v1/analytics/platform`, platform admins with
`platform_analytics:read`): every tenant's figures together, by UTC day."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from api.domain.analytics.dashboard import InvalidWindow, WindowTooLong
from api.domain.analytics.platform import (
    PlatformAnalytics,
    PlatformAnalyticsCache,
    PlatformDay,
    PlatformFigures,
    PlatformTotals,
    TenantDayActivity,
)
from api.domain.clock import Clock
from api.domain.errors import FieldProblem, Forbidden
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.clock import stored_time

DEFAULT_DAYS = 30
PARALLEL_TENANTS = 8  # tenants read at once (each: three indexed aggregations)


@dataclass(frozen=True)
class PlatformAnalyticsPolicy:
    """`max_days`: the longest range (422 past it); `cache_seconds`: how long an answer
    is served again (0: never cached)."""

    max_days: int = 366
    cache_seconds: int = 60


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


class GetPlatformAnalytics:
    """Per UTC day of `[since, until]` (dates, both included; default: the last 30 days to
    today): tenants created, tenants active (a message either way, or AI tokens), messages
    inbound and outbound (private notes aside), AI tokens, bytes of files stored; and the
    totals, with every tenant now by status (whatever statuses exist) and all stored
    bytes now. 422 `invalid_window` when `until` is before `since`, `window_too_long`
    past `max_days`. Cached `cache_seconds` per range."""

    def __init__(
        self,
        figures: PlatformFigures,
        cache: PlatformAnalyticsCache,
        policy: PlatformAnalyticsPolicy,
        clock: Clock,
    ) -> None:
        self._figures = figures
        self._cache = cache
        self._policy = policy
        self._clock = clock

    async def execute(
        self, principal: Principal, *, since: date | None, until: date | None
    ) -> tuple[PlatformAnalytics, bool]:
        if not principal.is_platform or not principal.can(Permission.PLATFORM_ANALYTICS_READ):
            raise Forbidden("This needs the platform 'platform_analytics:read' permission.")
        today = self._clock.now().astimezone(UTC).date()
        last = until or today
        first = since or last - timedelta(days=DEFAULT_DAYS - 1)
        for field, value in (("from", first), ("to", last)):
            if not date(1970, 1, 1) <= value <= date(9998, 12, 31):
                raise InvalidWindow(
                    "Dates must fall between 1970 and 9998.",
                    [FieldProblem(("query", field), "out of range")],
                )
        if last < first:
            raise InvalidWindow(
                "`to` must not be before `from`.", [FieldProblem(("query", "to"), "before from")]
            )
        span = (last - first).days + 1
        if span > self._policy.max_days:
            raise WindowTooLong(
                f"At most {self._policy.max_days} days at once.",
                [FieldProblem(("query", "to"), f"more than {self._policy.max_days} days")],
            )
        key = f"platform:{first.isoformat()}:{last.isoformat()}"
        if self._policy.cache_seconds:
            cached = await self._cache.get(key)
            if cached is not None:
                return cached, True
        answer = await self._compute(first, last, span)
        if self._policy.cache_seconds:
            await self._cache.put(key, answer, self._policy.cache_seconds)
        return answer, False

    async def _compute(self, first: date, last: date, span: int) -> PlatformAnalytics:
        names = [(first + timedelta(days=n)).isoformat() for n in range(span)]
        start, end = _start(first), _start(last + timedelta(days=1))
        days = {name: PlatformDay(day=name) for name in names}
        for name, n in (await self._figures.tenants_created(start, end)).items():
            if name in days:
                days[name].tenants_new = n
        tenant_ids = await self._figures.tenant_ids()
        gate = asyncio.Semaphore(PARALLEL_TENANTS)

        async def one(tenant_id: str) -> tuple[list[TenantDayActivity], int]:
            async with gate:
                rows = await self._figures.activity(tenant_id, start, end, names)
                return rows, await self._figures.storage_bytes(tenant_id)

        per_tenant = await asyncio.gather(*(one(t) for t in tenant_ids))
        active: set[str] = set()
        stored_now = 0
        for rows, stored in per_tenant:
            stored_now += stored
            for row in rows:
                day = days.get(row.day)
                if day is None:
                    continue
                day.messages_inbound += row.messages_inbound
                day.messages_outbound += row.messages_outbound
                day.ai_tokens += row.ai_tokens
                day.storage_bytes += row.storage_bytes
                if row.messages_inbound or row.messages_outbound or row.ai_tokens:
                    day.tenants_active += 1
                    active.add(row.tenant_id)
        ordered = [days[name] for name in names]
        statuses = await self._figures.tenants_by_status()
        totals = PlatformTotals(
            tenants_new=sum(d.tenants_new for d in ordered),
            tenants_active=len(active),
            messages_inbound=sum(d.messages_inbound for d in ordered),
            messages_outbound=sum(d.messages_outbound for d in ordered),
            ai_tokens=sum(d.ai_tokens for d in ordered),
            storage_bytes=sum(d.storage_bytes for d in ordered),
            tenants=sum(statuses.values()),
            tenants_by_status=statuses,
            storage_bytes_now=stored_now,
        )
        return PlatformAnalytics(
            since=first, until=last, days=ordered, totals=totals,
            computed_at=stored_time(self._clock.now()),
        )  # fmt: skip
