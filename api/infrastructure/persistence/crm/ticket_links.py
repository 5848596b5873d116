"""`TicketLinks` adapter: what tickets read from the inbox's collections (contacts,
conversations, messages) in the current tenant, without the messaging use cases."""

from __future__ import annotations

from datetime import datetime

from beanie import SortDirection

from api.domain.crm.tickets import ConversationLink
from api.domain.messaging.messages import SenderType
from api.infrastructure.persistence.base.scoped import TenantScopedRepository, tenant_first
from api.infrastructure.persistence.messaging.contacts import ContactDocument
from api.infrastructure.persistence.messaging.conversations import ConversationDocument
from api.infrastructure.persistence.messaging.messages import MessageDocument


class MongoTicketLinks:
    def __init__(self) -> None:
        self._contacts = TenantScopedRepository(ContactDocument)
        self._conversations = TenantScopedRepository(ConversationDocument)
        self._messages = TenantScopedRepository(MessageDocument)

    async def contact_exists(self, contact_id: str) -> bool:
        self._contacts.scope()  # no tenant: TenantRequired, even for a malformed id
        return await self._contacts.get(contact_id) is not None

    async def conversation(self, conversation_id: str) -> ConversationLink | None:
        self._conversations.scope()
        found = await self._conversations.get(conversation_id)
        if found is None or found.id is None:
            return None
        return ConversationLink(id=str(found.id), contact_id=found.contact.id)

    async def first_agent_message_at(
        self, conversation_id: str, since: datetime
    ) -> datetime | None:
        found = await self._messages.find(
            tenant_first(
                conversation_id=conversation_id,
                created_at={"$gte": since},
                private={"$ne": True},  # a private note answers no one
                **{"sender.type": SenderType.AGENT.value},
            ),
            sort=[("created_at", SortDirection.ASCENDING)],
            limit=1,
        )
        return found[0].created_at if found else None
