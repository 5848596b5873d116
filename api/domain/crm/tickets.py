"""Tickets: numbered per tenant, with a priority, a status, an assignee, a department and
SLA timers from that department's targets, counted in its business hours.

Rules:
- Numbers are 1, 2, 3 ... per tenant, without gaps, also under concurrent creates: a
  number is taken only by the insert of its ticket (see `TicketRepository.add`).
- Status moves (`TRANSITIONS`): open, pending and on_hold move between each other and to
  solved or closed; solved reopens (open) or closes; closed is final. Anything else is
  `TicketStateConflict` (409); moving to the status a ticket has is no change.
- SLA: the department's `first_response_minutes` and `resolution_minutes`, scaled by the
  priority (`PRIORITY_FACTOR`: low x1.5, normal x1, high x0.75, urgent x0.5, rounded up,
  at least one minute), counted in the department's business hours from the ticket's
  creation. No department, or no target: no timer (its due stays null).
- The first response is the first public staff comment on the ticket, or the first agent
  message on the linked conversation after the ticket was opened; then the first response
  timer stops. Solving stops the resolution timer; pending and on_hold pause it (the open
  minutes left are kept and the due moves on when the ticket is back to open); reopening a
  solved ticket starts a fresh resolution period.
- A timer is breached when its due passes while it runs; the breach (which timer, at its
  due instant) is recorded once, by the SLA job, which escalates it by email once.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field

from api.domain.business_hours import BusinessHours, after_open_minutes, open_minutes_between
from api.domain.errors import Conflict, NotFound

MAX_SUBJECT = 200
MAX_DESCRIPTION = 10_000
MAX_COMMENT = 5_000
MAX_COMMENTS = 500


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


_WAITING = frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD})
UNRESOLVED = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)

TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD,
                                  TicketStatus.SOLVED, TicketStatus.CLOSED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.ON_HOLD,
                                     TicketStatus.SOLVED, TicketStatus.CLOSED}),
    TicketStatus.ON_HOLD: frozenset({TicketStatus.OPEN, TicketStatus.PENDING,
                                     TicketStatus.SOLVED, TicketStatus.CLOSED}),
    TicketStatus.SOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}  # fmt: skip

PRIORITY_FACTOR: dict[TicketPriority, float] = {
    TicketPriority.LOW: 1.5,
    TicketPriority.NORMAL: 1.0,
    TicketPriority.HIGH: 0.75,
    TicketPriority.URGENT: 0.5,
}


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    title = "Ticket not found"


class TicketStateConflict(Conflict):
    """The status cannot move that way (see `TRANSITIONS`), or a closed ticket was changed."""

    code = "ticket_state_conflict"
    title = "Ticket state conflict"


class SlaTimer(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class TicketSla(BaseModel):
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    # While pending/on hold: the open minutes the resolution timer had left (due is null).
    resolution_paused_minutes: int | None = None
    first_response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None

    @property
    def breached(self) -> bool:
        return (
            self.first_response_breached_at is not None or self.resolution_breached_at is not None
        )


class TicketComment(BaseModel):
    id: str
    author_id: str
    body: str
    public: bool
    created_at: datetime


class Ticket(BaseModel):
    id: str | None = None
    tenant_id: str | None = None
    number: int = 0  # given by the repository's insert
    contact_id: str
    conversation_id: str | None = None
    subject: str
    description: str | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    status: TicketStatus = TicketStatus.OPEN
    assignee_id: str | None = None
    department_id: str | None = None
    sla: TicketSla = Field(default_factory=TicketSla)
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    # Kept by the use cases: when the SLA job looks next (`watch_at`), and a counter every
    # write moves on (optimistic concurrency between requests and the job).
    sla_watch_at: datetime | None = None
    revision: int = 0


class Targets(BaseModel):
    """What the SLA timers run on: the department's targets (minutes) and hours."""

    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    business_hours: BusinessHours | None = None


def scaled(minutes: int | None, priority: TicketPriority) -> int | None:
    """A target scaled by the priority (rounded up, at least one minute)."""
    if minutes is None:
        return None
    return max(1, math.ceil(minutes * PRIORITY_FACTOR[priority]))


def check_transition(current: TicketStatus, to: TicketStatus) -> None:
    if to != current and to not in TRANSITIONS[current]:
        raise TicketStateConflict(f"A {current.value} ticket cannot become {to.value}.")


def initial_sla(targets: Targets, priority: TicketPriority, opened_at: datetime) -> TicketSla:
    hours = targets.business_hours
    first = scaled(targets.first_response_minutes, priority)
    resolution = scaled(targets.resolution_minutes, priority)
    return TicketSla(
        first_response_due=None if first is None else after_open_minutes(hours, opened_at, first),
        resolution_due=(
            None if resolution is None else after_open_minutes(hours, opened_at, resolution)
        ),
    )


def recomputed_sla(ticket: Ticket, targets: Targets, now: datetime) -> TicketSla:
    """The timers after a change of department or priority: recounted from the ticket's
    creation with the new targets (earlier pauses are not credited); the timers that no
    longer run (responded, solved) and the breaches already recorded stay."""
    fresh = initial_sla(targets, ticket.priority, ticket.created_at)
    sla = ticket.sla.model_copy()
    if ticket.first_responded_at is None and sla.first_response_breached_at is None:
        sla.first_response_due = fresh.first_response_due
    if ticket.status in UNRESOLVED and sla.resolution_breached_at is None:
        if ticket.status in _WAITING:
            if fresh.resolution_due is None:
                sla.resolution_paused_minutes = None
            else:
                sla.resolution_paused_minutes = open_minutes_between(
                    targets.business_hours, now, fresh.resolution_due
                )
            sla.resolution_due = None
        else:
            sla.resolution_due = fresh.resolution_due
    return sla


def sla_after_status(
    ticket: Ticket, to: TicketStatus, targets: Targets, now: datetime
) -> TicketSla:
    """The timers after the status moves from `ticket.status` to `to` at `now`."""
    sla = ticket.sla.model_copy()
    hours = targets.business_hours
    before = ticket.status
    if to in _WAITING and before == TicketStatus.OPEN and sla.resolution_due is not None:
        if sla.resolution_breached_at is None:  # pause: keep what is left
            sla.resolution_paused_minutes = open_minutes_between(hours, now, sla.resolution_due)
            sla.resolution_due = None
    elif to == TicketStatus.OPEN and before in _WAITING:
        if sla.resolution_paused_minutes is not None:  # resume
            sla.resolution_due = after_open_minutes(hours, now, sla.resolution_paused_minutes)
            sla.resolution_paused_minutes = None
    elif to == TicketStatus.OPEN and before == TicketStatus.SOLVED:
        target = scaled(targets.resolution_minutes, ticket.priority)
        sla.resolution_due = None if target is None else after_open_minutes(hours, now, target)
        sla.resolution_paused_minutes = None
        sla.resolution_breached_at = None
    elif to in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        sla.resolution_paused_minutes = None
    return sla


def watch_at(ticket: Ticket, *, recheck_at: datetime | None = None) -> datetime | None:
    """When the SLA job should look at the ticket next: the earliest due of a timer not yet
    breached that still runs, or that stopped after its due (a late first response is a
    breach too); and, while a ticket linked to a conversation has no first response, the
    next look for an agent's reply there (`recheck_at`; None: at once). None: nothing to
    watch."""
    if ticket.status not in UNRESOLVED:
        return None
    sla = ticket.sla
    dues: list[datetime | None] = []
    if sla.first_response_breached_at is None and sla.first_response_due is not None:
        responded = ticket.first_responded_at
        if responded is None or responded > sla.first_response_due:
            dues.append(sla.first_response_due)
    if ticket.status == TicketStatus.OPEN and sla.resolution_breached_at is None:
        dues.append(sla.resolution_due)
    if ticket.conversation_id is not None and ticket.first_responded_at is None:
        dues.append(recheck_at or ticket.created_at)
    present = [d for d in dues if d is not None]
    return min(present) if present else None


def due_breaches(ticket: Ticket, now: datetime) -> list[tuple[SlaTimer, datetime]]:
    """The timers breached by `now` and not yet recorded, with their due instants."""
    sla = ticket.sla
    found: list[tuple[SlaTimer, datetime]] = []
    first = sla.first_response_due
    if (
        ticket.status in UNRESOLVED
        and sla.first_response_breached_at is None
        and first is not None
        and first <= now
        and (ticket.first_responded_at is None or ticket.first_responded_at > first)
    ):
        found.append((SlaTimer.FIRST_RESPONSE, first))
    resolution = sla.resolution_due
    if (
        ticket.status == TicketStatus.OPEN
        and sla.resolution_breached_at is None
        and resolution is not None
        and resolution <= now
    ):
        found.append((SlaTimer.RESOLUTION, resolution))
    return found


class TicketQuery(BaseModel):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee_id: str | None = None
    department_id: str | None = None
    contact_id: str | None = None
    breached: bool | None = None


class TicketPage(BaseModel):
    items: list[Ticket]
    next_cursor: str | None = None


class DueTicket(BaseModel):
    """A ticket whose SLA watch time has come (any tenant)."""

    tenant_id: str
    ticket_id: str


class TicketDurations(BaseModel):
    """Creation-to-event minutes of the tickets in a range (bounded sample)."""

    first_response_minutes: list[float]
    resolution_minutes: list[float]


class TicketCounts(BaseModel):
    open_by_priority: dict[TicketPriority, int]
    open_breached: int
    first_response_breaches: int
    resolution_breaches: int


class TicketRepository(Protocol):
    """Tickets of the current tenant (and department scope)."""

    async def add(self, ticket: Ticket) -> Ticket:
        """Store a new ticket with the tenant's next number (no gaps: the number is taken
        by the insert itself, retried with the next number when another create took it)."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def update(
        self, ticket_id: str, changes: dict[str, object], *, revision: int
    ) -> Ticket | None:
        """Set `changes` (entity fields; `updated_at` too) and move the revision on, if the
        ticket is still at `revision` (None: absent, out of scope, or changed meanwhile)."""
        ...

    async def set_watch(self, ticket_id: str, at: datetime | None, *, revision: int) -> bool:
        """Set `sla_watch_at` if the ticket is still at `revision` (the revision stays)."""
        ...

    async def add_comment(self, ticket_id: str, comment: TicketComment) -> bool:
        """Append a comment (False when absent or at `MAX_COMMENTS`)."""
        ...

    async def comments(self, ticket_id: str) -> list[TicketComment] | None: ...

    async def record_first_response(self, ticket_id: str, at: datetime) -> Ticket | None:
        """Set `first_responded_at` (revision on) if it is still unset; the ticket after,
        when this call set it."""
        ...

    async def record_breach(
        self, ticket_id: str, timer: SlaTimer, at: datetime, *, revision: int
    ) -> Ticket | None:
        """Claim the breach of `timer`: `<timer>_breached_at` = `at` if none is recorded
        and the ticket is still at `revision` (what the caller decided on); the revision
        moves on. The ticket after, when this call claimed it (two jobs: one gets it)."""
        ...

    async def search(self, query: TicketQuery, *, cursor: str | None, limit: int) -> TicketPage:
        """Newest first, by cursor."""
        ...

    async def counts(self, since: datetime, until: datetime) -> TicketCounts: ...

    async def durations(self, since: datetime, until: datetime, limit: int) -> TicketDurations: ...

    async def due(self, now: datetime, limit: int) -> list[DueTicket]:
        """Tickets of every tenant whose SLA watch time is at or before `now`."""
        ...


class ConversationLink(BaseModel):
    id: str
    contact_id: str | None


class TicketLinks(Protocol):
    """What tickets read from the inbox (current tenant): contacts and conversations."""

    async def contact_exists(self, contact_id: str) -> bool: ...

    async def conversation(self, conversation_id: str) -> ConversationLink | None: ...

    async def first_agent_message_at(
        self, conversation_id: str, since: datetime
    ) -> datetime | None:
        """When an agent first wrote on the conversation at or after `since`, if so."""
        ...
