"""CRM ticket tasks: the SLA job (breaches recorded and escalated, every tenant)."""

from __future__ import annotations

import punq

from api.interfaces.jobs.base import parley_task
from api.usecases.crm.ticket_sla import TICKET_SLA_JOB, WatchTicketSlas


@parley_task(TICKET_SLA_JOB)
async def watch_ticket_slas(container: punq.Container) -> int:
    """Periodic (beat): see `WatchTicketSlas`; returns how many breaches were recorded."""
    return await container.resolve(WatchTicketSlas).execute()
