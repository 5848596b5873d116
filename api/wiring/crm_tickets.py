"""CRM tickets: their repository (numbers, department scope), what they read from the
inbox, and the SLA job's policy."""

from __future__ import annotations

import punq

from api.config import Settings
from api.domain.crm.tickets import TicketLinks, TicketRepository
from api.infrastructure.persistence.crm.ticket_links import MongoTicketLinks
from api.infrastructure.persistence.crm.tickets import BeanieTicketRepository
from api.usecases.crm.ticket_sla import TicketSlaPolicy
from api.wiring.clients import Clients


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    container.register(TicketRepository, instance=BeanieTicketRepository())
    container.register(TicketLinks, instance=MongoTicketLinks())
    container.register(
        TicketSlaPolicy,
        instance=TicketSlaPolicy(
            batch=settings.ticket_sla_batch,
            ticket_url_base=f"{settings.public_base_url}{settings.api_prefix}",
        ),
    )
