"""An agent (or an API client) sends a message (`POST /messages`)."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.messaging.messages import MessageSender, SenderType
from api.domain.messaging.outbound import OutboundDraft
from api.domain.permissions import Permission
from api.usecases.kernel.authority import require_permission
from api.usecases.messaging.queue_outbound_message import Queued, QueueOutboundMessage


class SendMessage:
    """Queue the draft as the caller's message (`messages:send`; sender `agent` with the
    caller's user id). Every rule is `QueueOutboundMessage`'s."""

    def __init__(self, queue: QueueOutboundMessage) -> None:
        self._queue = queue

    async def execute(
        self, principal: Principal, draft: OutboundDraft, *, idempotency_key: str | None
    ) -> Queued:
        require_permission(principal, Permission.MESSAGES_SEND)
        sender = MessageSender(type=SenderType.AGENT, id=principal.user_id)
        return await self._queue.execute(draft, sender, idempotency_key=idempotency_key)
