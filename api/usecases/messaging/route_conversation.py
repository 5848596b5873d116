"""What happens to a conversation when a customer's message lands in it, after the
message is stored:

- a conversation that has just opened is auto-assigned (the tenant's rule,
  `AutoAssignConversation`);
- a new message outside business hours gets the out-of-hours reply, once per
  conversation and closed period (`DecideOutOfHoursReply`), queued as a `bot` message
  through the one sending path (`QueueOutboundMessage`); a reply that cannot be queued
  releases its period's claim, so the customer's next message tries again.

A conversation the bot handles is neither: the assistant answers it (out of hours too,
by its own hours) until it hands over to humans, who are then auto-assigned.

Best effort: the message is already stored, and a redelivery of it is answered from the
store without routing again, so a failure here (Redis or the database down) is logged
and leaves the conversation unassigned or unanswered rather than failing the message.
"""

from __future__ import annotations

import logging

from api.domain.messaging.content import TextContent
from api.domain.messaging.conversations import Conversation, HandledBy
from api.domain.messaging.messages import MessageSender, SenderType
from api.domain.messaging.outbound import OutboundDraft
from api.usecases.messaging.auto_assign import AutoAssignConversation
from api.usecases.messaging.out_of_hours import DecideOutOfHoursReply
from api.usecases.messaging.queue_outbound_message import QueueOutboundMessage

log = logging.getLogger(__name__)
BOT = MessageSender(type=SenderType.BOT, id=None)


class RouteInboundConversation:
    def __init__(
        self,
        auto_assign: AutoAssignConversation,
        out_of_hours: DecideOutOfHoursReply,
        queue: QueueOutboundMessage,
    ) -> None:
        self._auto_assign = auto_assign
        self._out_of_hours = out_of_hours
        self._queue = queue

    async def execute(
        self, conversation: Conversation, *, opened: bool, new_message: bool
    ) -> Conversation:
        """Route after an inbound message (current tenant): `opened`, it opened the
        conversation; `new_message`, it was stored now (not a redelivery). The
        conversation as it is after routing."""
        if conversation.handled_by is HandledBy.BOT:
            return conversation
        if opened:
            try:
                conversation = await self._auto_assign.execute(conversation) or conversation
            except Exception:  # best effort, see the module docstring
                log.exception("auto-assignment of conversation %s failed", conversation.id)
        if new_message:
            await self._reply_out_of_hours(conversation)
        return conversation

    async def _reply_out_of_hours(self, conversation: Conversation) -> None:
        try:
            reply = await self._out_of_hours.execute(conversation)
        except Exception:  # best effort
            log.exception("out-of-hours decision for conversation %s failed", conversation.id)
            return
        if reply is None:
            return
        draft = OutboundDraft(
            conversation_id=reply.conversation_id, content=TextContent(body=reply.text)
        )
        try:
            await self._queue.execute(draft, BOT)
        except Exception:
            log.exception("out-of-hours reply to conversation %s not queued", conversation.id)
            try:
                await self._out_of_hours.release(reply)
            except Exception:  # its mark lapses by itself
                log.exception("out-of-hours claim of %s not released", conversation.id)
