"""What happens to a conversation when a customer's message lands in it, after the
message is stored: a conversation that has just opened is auto-assigned (the tenant's
rule, `AutoAssignConversation`).

Best effort: the message is already stored, and a redelivery of it is answered from the
store without routing again, so a failure here (Redis or the database down) is logged
and leaves the conversation unassigned rather than failing the inbound message.
"""

from __future__ import annotations

import logging

from api.domain.messaging.conversations import Conversation
from api.usecases.messaging.auto_assign import AutoAssignConversation

log = logging.getLogger(__name__)


class RouteInboundConversation:
    def __init__(self, auto_assign: AutoAssignConversation) -> None:
        self._auto_assign = auto_assign

    async def execute(self, conversation: Conversation) -> Conversation:
        """Route a conversation an inbound message has just opened: the conversation as
        it is after routing (current tenant)."""
        try:
            return await self._auto_assign.execute(conversation) or conversation
        except Exception:  # best effort, see the module docstring
            log.exception("auto-assignment of conversation %s failed", conversation.id)
            return conversation
