"""An agent (or an API client) sends a message (`POST /messages`)."""

from __future__ import annotations

import logging

from api.domain.identity.auth import Principal
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.messages import MessageSender, SenderType
from api.domain.messaging.outbound import OutboundDraft
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.inbox_actions import InboxChangeLog
from api.usecases.messaging.queue_outbound_message import Queued, QueueOutboundMessage

log = logging.getLogger(__name__)


class SendMessage:
    """Queue the draft as the caller's message (`messages:send`; sender `agent` with the
    caller's user id). Every rule is `QueueOutboundMessage`'s. A person answering in a
    conversation the AI assistant handles takes it over: humans handle it from then on
    (`conversation.handed_off`, reason `agent_replied`); an API key's message (an
    integration's notice) leaves it with the assistant."""

    def __init__(
        self,
        queue: QueueOutboundMessage,
        conversations: ConversationRepository,
        changes: InboxChangeLog,
    ) -> None:
        self._queue = queue
        self._conversations = conversations
        self._changes = changes

    async def execute(
        self, principal: Principal, draft: OutboundDraft, *, idempotency_key: str | None
    ) -> Queued:
        require_permission(principal, Permission.MESSAGES_SEND)
        sender = MessageSender(type=SenderType.AGENT, id=principal.user_id)
        queued = await self._queue.execute(draft, sender, idempotency_key=idempotency_key)
        if queued.conversation is not None and not principal.is_api_key:
            try:
                await self._changes.humans_take(
                    self._conversations, queued.conversation, actor=principal,
                    reason="agent_replied",
                )  # fmt: skip
            except Exception:  # the message is queued: best effort, as auto-assignment
                log.exception("handing conversation %s to humans failed", queued.conversation.id)
        return queued
