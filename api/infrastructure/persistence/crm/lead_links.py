"""What leads read of the messaging context: contacts and conversations, by id, in the
current tenant, through the messaging repositories (so their scoping rules hold)."""

from __future__ import annotations

from api.domain.crm.leads import LeadContact, LeadConversation
from api.infrastructure.persistence.messaging.contacts import BeanieContactRepository
from api.infrastructure.persistence.messaging.conversations import BeanieConversationRepository


class MessagingLeadContacts:
    """`LeadContacts` adapter: live contacts only."""

    def __init__(self) -> None:
        self._contacts = BeanieContactRepository()

    async def get(self, contact_id: str) -> LeadContact | None:
        found = await self._contacts.get(contact_id)
        if found is None or found.deleted_at is not None or found.id is None:
            return None
        return LeadContact(id=found.id, name=found.name)

    async def by_phone(self, phone: str) -> LeadContact | None:
        found = await self._contacts.by_phone(phone)
        if found is None or found.deleted_at is not None or found.id is None:
            return None
        return LeadContact(id=found.id, name=found.name)


class MessagingLeadConversations:
    """`LeadConversations` adapter."""

    def __init__(self) -> None:
        self._conversations = BeanieConversationRepository()

    async def get(self, conversation_id: str) -> LeadConversation | None:
        found = await self._conversations.get(conversation_id)
        if found is None or found.id is None:
            return None
        return LeadConversation(
            id=found.id, contact_id=found.contact.id, contact_name=found.contact.name,
            # Conversations get a department when they are routed to one (CRM core's
            # department scope); until then they have none.
            department_id=getattr(found, "department_id", None),
        )  # fmt: skip
