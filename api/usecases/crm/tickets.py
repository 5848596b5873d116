"""Tickets: created, read, listed, changed (status, priority, assignee, department) and
commented. The rules are in `api.domain.crm.tickets`; here:

- Reading needs `crm:read`, every change `tickets:manage`; every change is audited
  (`ticket.created`, `ticket.updated` with the fields' from/to, `ticket.commented`).
- The contact must be one of the tenant's (422 `unknown_contact`); a linked conversation
  too, and of that contact (422 `unknown_conversation`); the assignee an active user of the
  tenant (422 `unknown_assignee`); the department one of the tenant's (422
  `unknown_department`) and, for a department-limited caller, one of theirs (403; such a
  caller must route a ticket to one of their departments). A ticket outside the caller's
  departments is 404, as another tenant's.
- A closed ticket changes no more (409 `ticket_state_conflict`); two changes racing on one
  ticket: the later one is 409 `ticket_state_conflict` (read it again).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.crm.tickets import (
    MAX_COMMENT,
    MAX_DESCRIPTION,
    MAX_SUBJECT,
    UNRESOLVED,
    Ticket,
    TicketComment,
    TicketLinks,
    TicketNotFound,
    TicketPage,
    TicketPriority,
    TicketQuery,
    TicketRepository,
    TicketStateConflict,
    TicketStatus,
    check_transition,
    initial_sla,
    recomputed_sla,
    sla_after_status,
    watch_at,
)
from api.domain.departments import (
    DepartmentRepository,
    current_department_scope,
    in_department_scope,
)
from api.domain.errors import FieldProblem, Forbidden, InvalidInput
from api.domain.identity.auth import Principal
from api.domain.identity.users import UserRepository
from api.domain.permissions import Permission
from api.usecases.crm.ticket_targets import TicketTargets
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_time

MAX_PAGE = 100
CHANGED_MEANWHILE = "The ticket was changed meanwhile; read it again."


class UnknownContact(InvalidInput):
    code = "unknown_contact"
    title = "Unknown contact"


class UnknownConversation(InvalidInput):
    code = "unknown_conversation"
    title = "Unknown conversation"


class UnknownAssignee(InvalidInput):
    code = "unknown_assignee"
    title = "Unknown assignee"


class UnknownDepartment(InvalidInput):
    code = "unknown_department"
    title = "Unknown department"


class TicketDraft(BaseModel):
    contact_id: str
    conversation_id: str | None = None
    subject: str
    description: str | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    assignee_id: str | None = None
    department_id: str | None = None


class TicketChanges(BaseModel):
    """What a PATCH may change; only the fields sent (`model_fields_set`) change."""

    subject: str | None = None
    description: str | None = None
    priority: TicketPriority | None = None
    status: TicketStatus | None = None
    assignee_id: str | None = None
    department_id: str | None = None


def _text(raw: str, field: str, limit: int) -> str:
    text = raw.strip()
    if not 1 <= len(text) <= limit:
        raise InvalidInput(
            f"`{field}` has 1 to {limit} characters.",
            [FieldProblem(("body", field), f"1 to {limit} characters")],
        )
    return text


class TicketRules:
    """Checks shared by creating and changing tickets."""

    def __init__(
        self, links: TicketLinks, users: UserRepository, departments: DepartmentRepository
    ) -> None:
        self._links = links
        self._users = users
        self._departments = departments

    async def contact(self, contact_id: str) -> str:
        if not await self._links.contact_exists(contact_id):
            raise UnknownContact(
                "The contact is not one of this tenant's.",
                [FieldProblem(("body", "contact_id"), "unknown contact")],
            )
        return contact_id

    async def conversation(self, conversation_id: str, contact_id: str) -> str:
        found = await self._links.conversation(conversation_id)
        if found is None or found.contact_id != contact_id:
            raise UnknownConversation(
                "The conversation is not one of this tenant's with this contact.",
                [FieldProblem(("body", "conversation_id"), "unknown conversation")],
            )
        return conversation_id

    async def assignee(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        user = await self._users.get(user_id)
        if user is None or not user.is_active:
            raise UnknownAssignee(
                "The assignee must be an active user of this tenant.",
                [FieldProblem(("body", "assignee_id"), "unknown or inactive user")],
            )
        return user_id

    async def department(self, department_id: str | None) -> str | None:
        if department_id is None:
            if current_department_scope() is not None:
                raise Forbidden("Route the ticket to one of your departments.")
            return None
        if await self._departments.get(department_id) is None:
            raise UnknownDepartment(
                "The department is not one of this tenant's.",
                [FieldProblem(("body", "department_id"), "unknown department")],
            )
        if not in_department_scope(department_id):
            raise Forbidden("The department is not one of yours.")
        return department_id


async def existing_ticket(tickets: TicketRepository, ticket_id: str) -> Ticket:
    found = await tickets.get(ticket_id)
    if found is None:
        raise TicketNotFound("Ticket not found.")
    return found


def _audited(ticket: Ticket) -> dict[str, object]:
    return ticket.model_dump(
        mode="json",
        include={"number", "contact_id", "conversation_id", "subject", "priority", "status",
                 "assignee_id", "department_id"},
    )  # fmt: skip


class CreateTicket:
    """Open a ticket (`tickets:manage`) with the tenant's next number and its SLA timers."""

    def __init__(
        self,
        tickets: TicketRepository,
        rules: TicketRules,
        targets: TicketTargets,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._tickets = tickets
        self._rules = rules
        self._targets = targets
        self._auditor = auditor
        self._clock = clock

    async def execute(self, principal: Principal, draft: TicketDraft) -> Ticket:
        require_permission(principal, Permission.TICKETS_MANAGE)
        contact_id = await self._rules.contact(draft.contact_id)
        conversation_id = (
            await self._rules.conversation(draft.conversation_id, contact_id)
            if draft.conversation_id is not None
            else None
        )
        department_id = await self._rules.department(draft.department_id)
        now = stored_time(self._clock.now())
        sla = initial_sla(await self._targets.of(department_id), draft.priority, now)
        ticket = Ticket(
            contact_id=contact_id,
            conversation_id=conversation_id,
            subject=_text(draft.subject, "subject", MAX_SUBJECT),
            description=(
                _text(draft.description, "description", MAX_DESCRIPTION)
                if draft.description is not None
                else None
            ),
            priority=draft.priority,
            assignee_id=await self._rules.assignee(draft.assignee_id),
            department_id=department_id,
            sla=sla,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        ticket.sla_watch_at = watch_at(ticket)
        stored = await self._tickets.add(ticket)
        await self._auditor.record(
            "ticket.created", "ticket", stored.id, actor_id=principal.user_id,
            changes=audit_extra(principal, _audited(stored)),
        )  # fmt: skip
        return stored


class UpdateTicket:
    """Change a ticket's subject, description, priority, status, assignee or department
    (`tickets:manage`); the SLA timers follow (see the domain's rules)."""

    def __init__(
        self,
        tickets: TicketRepository,
        rules: TicketRules,
        targets: TicketTargets,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._tickets = tickets
        self._rules = rules
        self._targets = targets
        self._auditor = auditor
        self._clock = clock

    async def execute(self, principal: Principal, ticket_id: str, changes: TicketChanges) -> Ticket:
        require_permission(principal, Permission.TICKETS_MANAGE)
        before = await existing_ticket(self._tickets, ticket_id)
        if before.status == TicketStatus.CLOSED:
            raise TicketStateConflict("A closed ticket cannot be changed.")
        sent = changes.model_fields_set
        now = stored_time(self._clock.now())
        fields: dict[str, object] = {}
        if "subject" in sent:
            fields["subject"] = _text(changes.subject or "", "subject", MAX_SUBJECT)
        if "description" in sent:
            fields["description"] = (
                None
                if changes.description is None
                else _text(changes.description, "description", MAX_DESCRIPTION)
            )
        if "priority" in sent and changes.priority is not None:
            fields["priority"] = changes.priority
        if "assignee_id" in sent:
            fields["assignee_id"] = await self._rules.assignee(changes.assignee_id)
        if "department_id" in sent and changes.department_id != before.department_id:
            fields["department_id"] = await self._rules.department(changes.department_id)
        to = changes.status if "status" in sent and changes.status is not None else before.status
        check_transition(before.status, to)
        changed = diff(_comparable(before), _comparable_fields(fields, to))
        if not changed:
            return before
        after = before.model_copy(update=fields)
        targets = await self._targets.of(after.department_id)
        sla = before.sla
        if {"priority", "department_id"} & set(changed):
            sla = recomputed_sla(after, targets, now)
        if to != before.status:
            sla = sla_after_status(after.model_copy(update={"sla": sla}), to, targets, now)
            fields["status"] = to
            if to in (TicketStatus.SOLVED, TicketStatus.CLOSED) and before.status in UNRESOLVED:
                fields["resolved_at"] = now
            elif to in UNRESOLVED:
                fields["resolved_at"] = None
        fields["sla"] = sla
        fields["sla_watch_at"] = watch_at(after.model_copy(update={"sla": sla, "status": to}))
        stored = await self._tickets.update(ticket_id, fields, revision=before.revision)
        if stored is None:
            raise TicketStateConflict(CHANGED_MEANWHILE)
        await self._auditor.record(
            "ticket.updated", "ticket", ticket_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"number": before.number, **changed}),
        )  # fmt: skip
        return stored


_CHANGEABLE = ("subject", "description", "priority", "status", "assignee_id", "department_id")


def _comparable(ticket: Ticket) -> dict[str, object]:
    dumped = ticket.model_dump(mode="json", include=set(_CHANGEABLE))
    return {k: dumped[k] for k in _CHANGEABLE}


def _comparable_fields(fields: dict[str, object], status: TicketStatus) -> dict[str, object]:
    out = {k: (v.value if isinstance(v, TicketPriority) else v) for k, v in fields.items()}
    out["status"] = status.value
    return out


class GetTicket:
    """One ticket (`crm:read`); another tenant's, or one outside the caller's departments,
    is 404."""

    def __init__(self, tickets: TicketRepository) -> None:
        self._tickets = tickets

    async def execute(self, principal: Principal, ticket_id: str) -> Ticket:
        require_permission(principal, Permission.CRM_READ)
        return await existing_ticket(self._tickets, ticket_id)


class ListTickets:
    """Tickets newest first, by cursor, filtered (`crm:read`); `assignee_id` may be `me`."""

    def __init__(self, tickets: TicketRepository) -> None:
        self._tickets = tickets

    async def execute(
        self, principal: Principal, query: TicketQuery, *, cursor: str | None, limit: int
    ) -> TicketPage:
        require_permission(principal, Permission.CRM_READ)
        if query.assignee_id == "me":
            query = query.model_copy(update={"assignee_id": principal.user_id})
        return await self._tickets.search(query, cursor=cursor, limit=min(limit, MAX_PAGE))


class AddTicketComment:
    """A staff comment on a ticket (`tickets:manage`): public ones are replies (the first
    one is the ticket's first response), internal ones notes. A closed ticket takes none
    (409); at most `MAX_COMMENTS` per ticket (409). Audited `ticket.commented` (without
    the body)."""

    def __init__(self, tickets: TicketRepository, auditor: Auditor, clock: Clock) -> None:
        self._tickets = tickets
        self._auditor = auditor
        self._clock = clock

    async def execute(
        self, principal: Principal, ticket_id: str, body: str, *, public: bool
    ) -> TicketComment:
        require_permission(principal, Permission.TICKETS_MANAGE)
        ticket = await existing_ticket(self._tickets, ticket_id)
        if ticket.status == TicketStatus.CLOSED:
            raise TicketStateConflict("A closed ticket takes no comments.")
        now = stored_time(self._clock.now())
        comment = TicketComment(
            id=secrets.token_hex(12), author_id=principal.user_id,
            body=_text(body, "body", MAX_COMMENT), public=public, created_at=now,
        )  # fmt: skip
        if not await self._tickets.add_comment(ticket_id, comment):
            raise TicketStateConflict("The ticket takes no more comments.")
        first = public and ticket.first_responded_at is None
        if first:
            await record_first_response(self._tickets, ticket_id, now)
        await self._auditor.record(
            "ticket.commented", "ticket", ticket_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"number": ticket.number, "comment_id": comment.id,
                                            "public": public, "first_response": first}),
        )  # fmt: skip
        return comment


async def record_first_response(tickets: TicketRepository, ticket_id: str, at: datetime) -> bool:
    """Record the first response at `at` (once) and move the SLA watch on."""
    after = await tickets.record_first_response(ticket_id, at)
    if after is None or after.id is None:
        return False
    await tickets.set_watch(after.id, watch_at(after), revision=after.revision)
    return True


class ListTicketComments:
    """A ticket's comments, oldest first (`crm:read`)."""

    def __init__(self, tickets: TicketRepository) -> None:
        self._tickets = tickets

    async def execute(self, principal: Principal, ticket_id: str) -> list[TicketComment]:
        require_permission(principal, Permission.CRM_READ)
        found = await self._tickets.comments(ticket_id)
        if found is None:
            raise TicketNotFound("Ticket not found.")
        return found
