"""The shared inbox, read side (`/api/v1/conversations`, `/api/v1/messages/{id}`):
conversations newest activity first and their messages newest first, by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import ConversationStatus
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.inbox import (
    InboxConversationOut,
    InboxConversationPageOut,
    InboxMessageOut,
    InboxMessagePageOut,
)
from api.usecases.messaging.get_conversation import GetConversation
from api.usecases.messaging.get_message import GetMessage
from api.usecases.messaging.inbox_reads import MAX_PAGE
from api.usecases.messaging.list_conversation_messages import ListConversationMessages
from api.usecases.messaging.list_conversations import ListConversations

conversations = APIRouter(prefix="/conversations", tags=["inbox"])
messages = APIRouter(prefix="/messages", tags=["inbox"])

Reader = Annotated[Principal, require(Permission.INBOX_READ)]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="`next_cursor` of the previous page."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (at most 100).")]


@conversations.get(
    "",
    summary="List conversations",
    description=(
        "Needs `inbox:read`. Newest activity first (`last_message_at`), by cursor. Filters "
        "combine: `status`, `channel_id`, `channel_type` (`whatsapp`, `telegram`, "
        "`instagram`, `messenger`: one inbox over every kind of channel), `assignee_id` (a "
        "user id, `me` or `none`), "
        "`team_id`, `department_id`, `tag`, and `q` (a piece of the contact's name, any "
        "case, or of its phone number, whatever the punctuation). A cursor this list did "
        "not give is 422. A department-limited user sees only the conversations routed to "
        "their departments."
    ),
    responses=problem_responses(401, 403, 422, 503),
)
async def list_conversations(
    principal: Reader,
    use_case: Annotated[ListConversations, Inject(ListConversations)],
    status: Annotated[ConversationStatus | None, Query(description="Only this status")] = None,
    channel_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this channel")
    ] = None,
    channel_type: Annotated[
        ChannelType | None, Query(description="Only on this kind of channel")
    ] = None,
    assignee_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Only this agent's; `me`: the caller's; `none`: unassigned ones",
        ),
    ] = None,
    team_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this team's")
    ] = None,
    department_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Only those routed to this department"),
    ] = None,
    tag: Annotated[
        str | None, Query(min_length=1, max_length=50, description="Only those with this tag")
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Contact name or phone contains"),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> InboxConversationPageOut:
    page = await use_case.execute(
        principal, status=status, channel_id=channel_id, channel_type=channel_type,
        assignee_id=assignee_id,
        team_id=team_id, department_id=department_id, tag=tag, text=q, cursor=cursor,
        limit=limit,
    )  # fmt: skip
    return InboxConversationPageOut.of(page)


@conversations.get(
    "/{conversation_id}",
    summary="Read a conversation",
    description="Needs `inbox:read`. Another tenant's conversation is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_conversation(
    conversation_id: str,
    principal: Reader,
    use_case: Annotated[GetConversation, Inject(GetConversation)],
) -> InboxConversationOut:
    return InboxConversationOut.of(await use_case.execute(principal, conversation_id))


@conversations.get(
    "/{conversation_id}/messages",
    summary="List a conversation's messages",
    description=(
        "Needs `inbox:read`. Newest first; `next_cursor` pages to older messages. "
        "Another tenant's conversation is 404."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def list_messages(
    conversation_id: str,
    principal: Reader,
    use_case: Annotated[ListConversationMessages, Inject(ListConversationMessages)],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> InboxMessagePageOut:
    page = await use_case.execute(principal, conversation_id, cursor=cursor, limit=limit)
    return InboxMessagePageOut.of(page)


@messages.get(
    "/{message_id}",
    summary="Read a message",
    description=(
        "Needs `inbox:read`. Statuses only move forward (`queued < sent < delivered < read "
        "< played`; `failed` is final and keeps the provider's error). An inbound file is "
        "`media` once copied into the tenant's storage. Another tenant's message is 404."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_message(
    message_id: str,
    principal: Reader,
    use_case: Annotated[GetMessage, Inject(GetMessage)],
) -> InboxMessageOut:
    return InboxMessageOut.of(await use_case.execute(principal, message_id))
