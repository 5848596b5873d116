"""The SLA job (periodic, every tenant): records breaches and escalates them.

For each ticket whose SLA watch time has come (`sla_watch_at <= now`, by the `Clock`):
1. A linked conversation on which an agent wrote after the ticket was opened (and no
   response recorded yet): the first response is recorded at that message's time (the
   inbox is read through the `TicketLinks` port: the CRM does not depend on messaging),
   audited `ticket.first_responded` (no actor).
2. Each running timer whose due has passed is breached: a conditional update claims it
   (`<timer>_breached_at` = its due), so with two jobs running one records it.
3. The run that claimed a breach escalates it once: `ticket_sla_breached` to the
   assignee and the department's members (active users, each once).
4. The watch time moves to the next running due (none: no longer watched); an unanswered
   ticket linked to a conversation is looked at again every `conversation_recheck_minutes`
   (5) for an agent's reply there, also once its first response timer is breached or when
   it has none (so its `first_responded_at`, which the stats read, is found).
Returns how many breaches were recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel

from api.domain.clock import Clock
from api.domain.crm.tickets import (
    SlaTimer,
    Ticket,
    TicketLinks,
    TicketRepository,
    due_breaches,
    watch_at,
)
from api.domain.departments import DepartmentRepository
from api.domain.email.messages import ContextValue, EmailTemplate
from api.domain.errors import InvalidInput, ServiceUnavailable
from api.domain.identity.users import UserRepository
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.crm.tickets import record_first_response
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import dedupe
from api.usecases.kernel.mailer import QueueEmail

log = logging.getLogger(__name__)
TICKET_SLA_JOB = "parley.crm.ticket_sla"
TIMER_NAMES = {SlaTimer.FIRST_RESPONSE: "first response", SlaTimer.RESOLUTION: "resolution"}


class TicketSlaPolicy(BaseModel):
    batch: int = 500
    # How often an unanswered ticket linked to a conversation is looked at for an agent's
    # reply there (after its first response due, or without one).
    conversation_recheck_minutes: int = 5
    ticket_url_base: str  # `<public base URL><api prefix>`; the ticket's path is added


class WatchTicketSlas:
    def __init__(
        self,
        tickets: TicketRepository,
        links: TicketLinks,
        departments: DepartmentRepository,
        users: UserRepository,
        mail: QueueEmail,
        auditor: Auditor,
        clock: Clock,
        policy: TicketSlaPolicy,
    ) -> None:
        self._tickets = tickets
        self._links = links
        self._departments = departments
        self._users = users
        self._mail = mail
        self._auditor = auditor
        self._clock = clock
        self._policy = policy

    async def execute(self) -> int:
        now = self._clock.now()
        breaches = 0
        for due in await self._tickets.due(now, self._policy.batch):
            with tenant_context(TenantId(due.tenant_id)):
                try:
                    breaches += await self._one(due.ticket_id, now)
                except Exception:  # one ticket's failure does not stop the others
                    log.exception("SLA check of ticket %s failed", due.ticket_id)
        return breaches

    async def _one(self, ticket_id: str, now: datetime) -> int:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            return 0
        if ticket.first_responded_at is None and ticket.conversation_id is not None:
            replied = await self._links.first_agent_message_at(
                ticket.conversation_id, ticket.created_at
            )
            if replied is not None and replied <= now:
                if await record_first_response(self._tickets, ticket_id, replied):
                    await self._auditor.record(
                        "ticket.first_responded", "ticket", ticket_id, actor_id=None,
                        changes={"number": ticket.number, "at": replied.isoformat(),
                                 "conversation_id": ticket.conversation_id},
                    )  # fmt: skip
                ticket = await self._tickets.get(ticket_id) or ticket
        breaches = 0
        for timer, due in due_breaches(ticket, now):
            claimed = await self._tickets.record_breach(
                ticket_id, timer, due, revision=ticket.revision
            )
            if claimed is None:
                continue  # another run has it, or it stopped meanwhile
            breaches += 1
            ticket = claimed
            await self._auditor.record(
                "ticket.sla_breached", "ticket", ticket_id, actor_id=None,
                changes={"number": ticket.number, "timer": timer.value,
                         "breached_at": _breached_at(ticket, timer)},
            )  # fmt: skip
            await self._escalate(ticket, timer)
        recheck = now + timedelta(minutes=self._policy.conversation_recheck_minutes)
        await self._tickets.set_watch(
            ticket_id, watch_at(ticket, recheck_at=recheck), revision=ticket.revision
        )
        return breaches

    async def _escalate(self, ticket: Ticket, timer: SlaTimer) -> None:
        ids = [ticket.assignee_id] if ticket.assignee_id else []
        if ticket.department_id is not None:
            department = await self._departments.get(ticket.department_id)
            ids += department.member_ids if department is not None else []
        context: dict[str, ContextValue] = {
            "ticket_number": ticket.number,
            "subject": ticket.subject,
            "priority": ticket.priority.value,
            "timer": TIMER_NAMES[timer],
            "due_at": _breached_at(ticket, timer),
            "ticket_url": f"{self._policy.ticket_url_base}/tickets/{ticket.id}",
        }
        for user_id in dedupe(ids):
            user = await self._users.get(user_id)
            if user is None or not user.is_active:
                continue
            try:
                await self._mail.execute(user.email, EmailTemplate.TICKET_SLA_BREACHED, context)
            except (ServiceUnavailable, InvalidInput) as exc:
                log.warning(
                    "ticket %s: an escalation email was not queued (%s)",
                    ticket.id, type(exc).__name__,
                )  # fmt: skip


def _breached_at(ticket: Ticket, timer: SlaTimer) -> str | None:
    at = (
        ticket.sla.first_response_breached_at
        if timer == SlaTimer.FIRST_RESPONSE
        else ticket.sla.resolution_breached_at
    )
    return at.isoformat() if at is not None else None
