"""`POST /conversations/{id}/lead`: a lead for the conversation's contact (`crm:write`).

The conversation is read through a port (the messaging context's, in the current
tenant: another tenant's is 404). The lead takes the conversation's contact, its
department unless the body names one, the title given or "Conversation with <name>",
source `conversation` unless given, and remembers the conversation. One open lead per
conversation: while one is open (not won or lost), another is 409 `lead_exists` with the
open one's id (decided by a unique index, so two racing requests make one lead); once it
is won or lost, a new one can be made.
"""

from __future__ import annotations

from api.domain.clock import Clock
from api.domain.crm.leads import Lead, LeadConversations, LeadExists, LeadRepository, LeadSource
from api.domain.errors import NotFound
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.crm.lead_rules import LeadFields
from api.usecases.crm.leads import LeadWriter, new_lead
from api.usecases.kernel.authority import require_permission
from api.usecases.kernel.clock import stored_time

CONVERSATION_NOT_FOUND = "Conversation not found."


class CreateLeadFromConversation:
    def __init__(
        self,
        conversations: LeadConversations,
        leads: LeadRepository,
        writer: LeadWriter,
        clock: Clock,
    ) -> None:
        self._conversations = conversations
        self._leads = leads
        self._writer = writer
        self._clock = clock

    async def execute(self, principal: Principal, conversation_id: str, fields: LeadFields) -> Lead:
        require_permission(principal, Permission.CRM_WRITE)
        conversation = await self._conversations.get(conversation_id)
        if conversation is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        sent = fields.model_fields_set
        given = fields.model_copy(update={
            "contact_id": conversation.contact_id,
            "title": fields.title if "title" in sent and fields.title else
            f"Conversation with {conversation.contact_name or 'a contact'}"[:200],
            "department_id": fields.department_id if "department_id" in sent
            else conversation.department_id,
        })  # fmt: skip
        lead = new_lead(
            given, principal.user_id, stored_time(self._clock.now()), LeadSource.CONVERSATION
        )
        lead.conversation_id = conversation.id
        existing = await self._leads.open_for_conversation(conversation.id)
        if existing is not None and existing.id is not None:
            raise LeadExists(existing.id)
        return await self._writer.create(principal, lead)
