"""`GET /tickets/stats`: open tickets by priority, breaches, and the median minutes from
opening to the first response and to the resolution, over a range (`crm:read`).

- `open_by_priority`: unresolved tickets (open, pending, on hold) now, per priority.
- `open_breached`: unresolved tickets with a breach recorded.
- `first_response_breaches` / `resolution_breaches`: breaches whose due fell in the range.
- `median_first_response_minutes`: over the tickets opened in the range that had their
  first response; `median_resolution_minutes`: over the tickets resolved in the range.
  Wall-clock minutes (what the customer waited), not business minutes; computed over at
  most `SAMPLE` tickets each (the newest), null when there is none.
- `since`/`until` default to the 30 days before now; a time without a zone is UTC.
A department-limited caller's figures cover their departments only (the scoped queries).
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.crm.tickets import TicketPriority, TicketRepository
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission

SAMPLE = 10_000
DEFAULT_DAYS = 30
MAX_DAYS = 366


class TicketStats(BaseModel):
    since: datetime
    until: datetime
    open_by_priority: dict[TicketPriority, int]
    open_breached: int
    first_response_breaches: int
    resolution_breaches: int
    median_first_response_minutes: float | None
    median_resolution_minutes: float | None


def _aware(at: datetime | None) -> datetime | None:
    """A time without a zone is UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


class GetTicketStats:
    def __init__(self, tickets: TicketRepository, clock: Clock) -> None:
        self._tickets = tickets
        self._clock = clock

    async def execute(
        self, principal: Principal, since: datetime | None, until: datetime | None
    ) -> TicketStats:
        require_permission(principal, Permission.CRM_READ)
        since, until = _aware(since), _aware(until)
        until = until or self._clock.now()
        since = since or until - timedelta(days=DEFAULT_DAYS)
        if since >= until or until - since > timedelta(days=MAX_DAYS):
            raise InvalidInput(
                f"`since` must be before `until`, at most {MAX_DAYS} days apart.",
                [FieldProblem(("query", "since"), "before until, at most 366 days")],
            )
        counts = await self._tickets.counts(since, until)
        durations = await self._tickets.durations(since, until, SAMPLE)
        return TicketStats(
            since=since,
            until=until,
            open_by_priority={p: counts.open_by_priority.get(p, 0) for p in TicketPriority},
            open_breached=counts.open_breached,
            first_response_breaches=counts.first_response_breaches,
            resolution_breaches=counts.resolution_breaches,
            median_first_response_minutes=_median(durations.first_response_minutes),
            median_resolution_minutes=_median(durations.resolution_minutes),
        )
