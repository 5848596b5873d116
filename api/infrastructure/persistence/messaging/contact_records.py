"""What points at a contact, in MongoDB, within the current tenant: conversations (with
their messages), leads, tickets, meetings and callback requests (`ContactRecords`).

Every query is keyed by the contact id over an index that starts with the tenant
(`contact_conversations`, `contact_created`, `ticket_contact_created`, `meeting_contact`,
`tenant_contact`; a conversation's messages by `conversation_history`). Moving is a run of
idempotent updates: what still names the source moves, so a run that stopped is completed
by the next one. A conversation's messages move before the conversation, since the
conversation is what finds them again.
"""

from __future__ import annotations

from typing import Any

from api.common.clock import utcnow
from api.domain.departments import current_department_scope, department_scope
from api.domain.errors import Conflict
from api.domain.messaging.contact_merge import MovedRecords
from api.domain.messaging.conversations import ContactSummary, ConversationStatus
from api.infrastructure.persistence.base.department_scoped import (
    DepartmentOwnedDocument,
    DepartmentScopedRepository,
)
from api.infrastructure.persistence.base.scoped import TenantScopedRepository, tenant_first
from api.infrastructure.persistence.crm.callbacks import CallbackRequestDocument
from api.infrastructure.persistence.crm.leads import LeadDocument
from api.infrastructure.persistence.crm.meetings import MeetingDocument
from api.infrastructure.persistence.crm.tickets import TicketDocument
from api.infrastructure.persistence.messaging.conversations import (
    ACTIVE_KEY,
    SEARCH_KEY,
    ConversationDocument,
    search_key,
)
from api.infrastructure.persistence.messaging.messages import MessageDocument

_CONTACT_KEY = "contact.id"
_CRM: dict[str, type[DepartmentOwnedDocument]] = {
    "leads": LeadDocument,
    "tickets": TicketDocument,
    "meetings": MeetingDocument,
    "callback_requests": CallbackRequestDocument,
}


class BeanieContactRecords:
    """`ContactRecords` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._conversations = DepartmentScopedRepository(ConversationDocument)
        self._messages = TenantScopedRepository(MessageDocument)
        self._crm = {kind: DepartmentScopedRepository(document)
                     for kind, document in _CRM.items()}  # fmt: skip

    async def outside_scope(self, contact_id: str) -> bool:
        if current_department_scope() is None:
            return False
        owned: list[tuple[DepartmentScopedRepository[Any], dict[str, Any]]] = [
            (self._conversations, tenant_first(**{_CONTACT_KEY: contact_id})),
            *((repository, tenant_first(contact_id=contact_id))
              for repository in self._crm.values()),
        ]  # fmt: skip
        for repository, key in owned:
            seen = await repository.count(key)
            with department_scope(None):
                if await repository.count(key) != seen:
                    return True
        return False

    async def move(self, source_id: str, target: ContactSummary) -> MovedRecords:
        moved = MovedRecords()
        with department_scope(None):  # the caller checked `outside_scope`
            for conversation in await self._conversations.find(
                tenant_first(**{_CONTACT_KEY: source_id})
            ):
                moved.messages += await self._move_messages(str(conversation.id), source_id,
                                                            target.id)  # fmt: skip
                if await self._move_conversation(conversation, source_id, target):
                    moved.resolved.append(str(conversation.id))
                moved.conversations.append(str(conversation.id))
            now = utcnow()
            for kind, repository in self._crm.items():
                count = await repository.update_many(
                    tenant_first(contact_id=source_id),
                    {"$set": {"contact_id": target.id, "updated_at": now}},
                )
                setattr(moved, kind, count)
        return moved

    async def _move_messages(self, conversation_id: str, source_id: str, target_id: str) -> int:
        moved = await self._messages.update_many(
            tenant_first(conversation_id=conversation_id, contact_id=source_id),
            {"$set": {"contact_id": target_id}},
        )
        await self._messages.update_many(  # the customer's own messages name them as sender
            tenant_first(conversation_id=conversation_id, **{"sender.id": source_id}),
            {"$set": {"sender.id": target_id}},
        )
        return moved

    async def _move_conversation(
        self, conversation: ConversationDocument, source_id: str, target: ContactSummary
    ) -> bool:
        """Point the conversation at the target; True when it had to be resolved (the
        target has its own unresolved conversation on that channel)."""
        condition = {"_id": conversation.id, _CONTACT_KEY: source_id}
        fields: dict[str, Any] = {"contact": target.model_dump(), SEARCH_KEY: search_key(target),
                                  "updated_at": utcnow()}  # fmt: skip
        if conversation.active_key is None:
            await self._conversations.apply_where(condition, {"$set": fields})
            return False
        try:
            await self._conversations.apply_where(
                condition, {"$set": {**fields, ACTIVE_KEY: target.id}}
            )
            return False
        except Conflict:  # one unresolved conversation per contact and channel
            now = utcnow()
            await self._conversations.apply_where(
                condition,
                {"$set": {**fields, "status": ConversationStatus.RESOLVED.value,
                          "resolved_at": now},
                 "$unset": {ACTIVE_KEY: "", "snoozed_until": "", "resolved_by": ""}},
            )  # fmt: skip
            return True
