"""The provider says a customer stopped (or resumed) marketing messages (WhatsApp's
`user_preferences` webhook): their contact is opted out (or back in), source `provider`.

Called with one typed `MarketingPreference` event and the channel (the tenant is the
channel's). The contact is found the way every path finds a customer (user id on the
channel, else the number in the tenant); a customer who stops and has no contact yet gets
one (source `inbound`), opted out, so a later import or campaign cannot reach them.
"""

from __future__ import annotations

import logging

from api.common.clock import utcnow
from api.domain.messaging.channels import Channel
from api.domain.messaging.contacts import (
    ConsentChange,
    ConsentSource,
    Contact,
    ContactIdentity,
    ContactRepository,
    ContactSource,
)
from api.domain.messaging.events import MarketingPreference
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.contact_rules import ContactConsent

log = logging.getLogger(__name__)
_OPTED_OUT = {"stop": True, "resume": False}


class ApplyMarketingPreference:
    def __init__(self, contacts: ContactRepository, consent: ContactConsent) -> None:
        self._contacts = contacts
        self._consent = consent

    async def execute(self, event: MarketingPreference, channel: Channel) -> bool:
        """True when a contact's consent changed."""
        opted_out = _OPTED_OUT.get(event.value.lower())
        if opted_out is None or channel.id is None or channel.tenant_id is None:
            return False
        identity = ContactIdentity(bsuid=event.sender.user_id, wa_id=event.sender.phone)
        with tenant_context(TenantId(channel.tenant_id)):
            if not (identity.bsuid or identity.wa_id):
                log.warning("marketing preference naming no customer; ignored")
                return False
            contact: Contact | None = (
                await self._contacts.ensure(channel.id, identity, source=ContactSource.INBOUND)
                if opted_out
                else await self._contacts.find(channel.id, identity)
            )
            if contact is None or contact.id is None:
                return False
            change = ConsentChange(
                opted_out=opted_out, source=ConsentSource.PROVIDER, at=event.timestamp or utcnow()
            )
            return await self._consent.change(contact.id, change) is not None
