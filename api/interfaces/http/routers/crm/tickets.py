"""CRM tickets (`/api/v1/tickets`): numbered per tenant, routed to departments, with SLA
timers. Reading needs `crm:read`; changes need `tickets:manage`. A department-limited
user sees (and routes to) their departments' tickets only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.domain.crm.tickets import TicketPriority, TicketQuery, TicketStatus
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.crm_tickets import (
    TicketCommentIn,
    TicketCommentOut,
    TicketCommentsOut,
    TicketIn,
    TicketOut,
    TicketPageOut,
    TicketStatsOut,
    TicketUpdateIn,
)
from api.usecases.crm.ticket_stats import GetTicketStats
from api.usecases.crm.tickets import (
    MAX_PAGE,
    AddTicketComment,
    CreateTicket,
    GetTicket,
    ListTicketComments,
    ListTickets,
    TicketChanges,
    TicketDraft,
    UpdateTicket,
)

router = APIRouter(prefix="/tickets", tags=["tickets"])

Reader = Annotated[Principal, require(Permission.CRM_READ)]
Manager = Annotated[Principal, require(Permission.TICKETS_MANAGE)]
Filter = Annotated[str | None, Query(min_length=1, max_length=64)]
RULES = (
    " The contact must be the tenant's (422 `unknown_contact`), the conversation one of "
    "that contact's (422 `unknown_conversation`), the assignee an active user (422 "
    "`unknown_assignee`), the department the tenant's (422 `unknown_department`) and, for "
    "a department-limited user, one of theirs (403)."
)
SLA = (
    " SLA: the department's targets, scaled by priority (low x1.5, normal x1, high x0.75, "
    "urgent x0.5), counted in its business hours; pending and on_hold pause the resolution "
    "timer."
)


@router.post(
    "",
    status_code=201,
    summary="Open a ticket",
    description="Needs `tickets:manage`. Gets the tenant's next number (1, 2, 3 ... no gaps). "
    "Audited `ticket.created`." + RULES + SLA,
    responses=problem_responses(401, 403, 422, 503),
)
async def create_ticket(
    body: Annotated[TicketIn, Body()],
    principal: Manager,
    use_case: Annotated[CreateTicket, Inject(CreateTicket)],
) -> TicketOut:
    draft = TicketDraft.model_validate(body.model_dump())
    return TicketOut.of(await use_case.execute(principal, draft))


@router.get(
    "",
    summary="List tickets",
    description=(
        "Needs `crm:read`. Newest first, by cursor. Filters combine: `status`, `priority`, "
        "`assignee_id` (a user id or `me`), `department_id`, `contact_id`, `breached`. A "
        "cursor this list did not give is 422."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_tickets(
    principal: Reader,
    use_case: Annotated[ListTickets, Inject(ListTickets)],
    status: Annotated[TicketStatus | None, Query()] = None,
    priority: Annotated[TicketPriority | None, Query()] = None,
    assignee_id: Filter = None,
    department_id: Filter = None,
    contact_id: Filter = None,
    breached: Annotated[bool | None, Query(description="Only tickets with(out) a breach")] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="`next_cursor` of the last page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> TicketPageOut:
    query = TicketQuery(
        status=status, priority=priority, assignee_id=assignee_id, department_id=department_id,
        contact_id=contact_id, breached=breached,
    )  # fmt: skip
    return TicketPageOut.of(await use_case.execute(principal, query, cursor=cursor, limit=limit))


@router.get(
    "/stats",
    summary="Ticket figures",
    description=(
        "Needs `crm:read`. Open tickets by priority, breaches (open breached; first response "
        "and resolution breaches due in the range) and the median minutes from opening to "
        "the first response and to the resolution over the range (`since`..`until`, default "
        "the last 30 days, at most 366). A department-limited user's figures cover their "
        "departments."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def ticket_stats(
    principal: Reader,
    use_case: Annotated[GetTicketStats, Inject(GetTicketStats)],
    since: Annotated[datetime | None, Query(description="ISO 8601 (no zone: UTC)")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 (no zone: UTC)")] = None,
) -> TicketStatsOut:
    return TicketStatsOut.of(await use_case.execute(principal, since, until))


@router.get(
    "/{ticket_id}",
    summary="Read a ticket",
    description="Needs `crm:read`. Another tenant's ticket (or another department's, for a "
    "limited user) is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_ticket(
    ticket_id: str, principal: Reader, use_case: Annotated[GetTicket, Inject(GetTicket)]
) -> TicketOut:
    return TicketOut.of(await use_case.execute(principal, ticket_id))


@router.patch(
    "/{ticket_id}",
    summary="Change a ticket",
    description=(
        "Needs `tickets:manage`. Subject, description, priority, status, assignee, "
        "department. Status moves: open, pending and on_hold between each other and to "
        "solved or closed; solved to open or closed; closed is final (409 "
        "`ticket_state_conflict`, also for any change of a closed ticket, and for a change "
        "racing another). Changing the priority or department recounts the timers from the "
        "ticket's opening. Audited `ticket.updated`." + RULES + SLA
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_ticket(
    ticket_id: str,
    body: Annotated[TicketUpdateIn, Body()],
    principal: Manager,
    use_case: Annotated[UpdateTicket, Inject(UpdateTicket)],
) -> TicketOut:
    changes = TicketChanges.model_validate(body.model_dump(exclude_unset=True))
    return TicketOut.of(await use_case.execute(principal, ticket_id, changes))


@router.post(
    "/{ticket_id}/comments",
    status_code=201,
    summary="Comment on a ticket",
    description=(
        "Needs `tickets:manage`. `public: true` is a reply (the first one records the "
        "ticket's first response and stops its first response timer); `false` an internal "
        "note. Recorded on the ticket only (replies to the customer go through the linked "
        "conversation). A closed ticket takes none (409). Audited `ticket.commented`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def comment_ticket(
    ticket_id: str,
    body: Annotated[TicketCommentIn, Body()],
    principal: Manager,
    use_case: Annotated[AddTicketComment, Inject(AddTicketComment)],
) -> TicketCommentOut:
    comment = await use_case.execute(principal, ticket_id, body.body, public=body.public)
    return TicketCommentOut.of(comment)


@router.get(
    "/{ticket_id}/comments",
    summary="A ticket's comments",
    description="Needs `crm:read`. Oldest first.",
    responses=problem_responses(401, 403, 404, 503),
)
async def list_ticket_comments(
    ticket_id: str,
    principal: Reader,
    use_case: Annotated[ListTicketComments, Inject(ListTicketComments)],
) -> TicketCommentsOut:
    found = await use_case.execute(principal, ticket_id)
    return TicketCommentsOut(items=[TicketCommentOut.of(c) for c in found])
