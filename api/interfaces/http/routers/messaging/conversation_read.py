"""`POST /api/v1/conversations/{id}/read`: an agent has read the conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.inbox import InboxConversationOut
from api.usecases.messaging.mark_conversation_read import MarkConversationRead

router = APIRouter(prefix="/conversations", tags=["inbox"])


@router.post(
    "/{conversation_id}/read",
    summary="Mark a conversation read",
    description=(
        "Needs `inbox:write`. `unread_count` becomes 0 and a job sends the provider a read "
        "receipt for the customer's last message (with `typing=true`, also the typing "
        "indicator, shown until the reply or about 25 s): WhatsApp's read mark on the "
        "message; on Messenger and Instagram `sender_action: mark_seen` (then `typing_on`) "
        "to the customer; nothing on Telegram. Audited as `conversation.read`. "
        "Another tenant's conversation is 404."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def mark_conversation_read(
    conversation_id: str,
    principal: Annotated[Principal, require(Permission.INBOX_WRITE)],
    use_case: Annotated[MarkConversationRead, Inject(MarkConversationRead)],
    typing: Annotated[bool, Query(description="Also show the typing indicator.")] = False,
) -> InboxConversationOut:
    conversation = await use_case.execute(principal, conversation_id, typing=typing)
    return InboxConversationOut.of(conversation)
