"""The email a user gets when a lead is assigned to them (`lead_assigned`).

Sent when a lead is created with an owner, or its owner changes, unless the owner is the
one who made the change (nobody is told what they just did themselves), the owner is not
an active user, or the lead was imported (a bulk import would flood the owners: they see
their imported leads with `?owner_id=`). The lead is saved whatever becomes of the email:
a queue that is down is logged, not an error of the change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.domain.crm.leads import Lead
from api.domain.email.messages import ContextValue, EmailTemplate
from api.domain.errors import ServiceUnavailable
from api.domain.identity.users import UserRepository
from api.usecases.crm.lead_rules import shown_value
from api.usecases.kernel.mailer import QueueEmail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeadLinks:
    """Where leads are read: `{PUBLIC_BASE_URL}{API prefix}` (the email's link)."""

    base_url: str


class NotifyLeadOwner:
    def __init__(self, users: UserRepository, mail: QueueEmail, links: LeadLinks) -> None:
        self._users = users
        self._mail = mail
        self._links = links

    async def execute(self, lead: Lead, actor_id: str | None) -> bool:
        """Queue the email to the lead's owner; True when one was queued."""
        if lead.owner_id is None or lead.owner_id == actor_id:
            return False
        owner = await self._users.get(lead.owner_id)
        if owner is None or not owner.is_active:
            return False
        actor = await self._users.get(actor_id) if actor_id else None
        value = shown_value(lead.value_minor, lead.currency)
        context: dict[str, ContextValue] = {
            "owner_name": owner.full_name,
            "assigned_by": actor.full_name if actor else "Parley",
            "lead_title": lead.title,
            "stage": lead.stage.value,
            "value": f"{value} {lead.currency}" if value else "",
            "lead_url": f"{self._links.base_url}/leads/{lead.id}",
        }
        try:
            await self._mail.execute(owner.email, EmailTemplate.LEAD_ASSIGNED, context)
        except ServiceUnavailable:
            log.warning("lead %s: the owner's email could not be queued", lead.id)
            return False
        return True
