"""The caller's AI conversations (`/api/v1/ai`): list, read, history, delete, clear.

Only the caller's own: another user's or tenant's conversation is 404.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request, Response

from api.domain.identity.auth import Principal
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.ai.access import AiUser
from api.interfaces.http.schemas.ai import (
    ConversationDetailOut,
    ConversationOut,
    MessageOut,
    MessagePageOut,
)
from api.interfaces.http.schemas.paging import Page, PagingQuery
from api.usecases.ai.list_ai_conversations import ListAiConversations
from api.usecases.ai.read_ai_conversation import ReadAiConversation
from api.usecases.ai.remove_ai_conversations import ClearAiHistory, DeleteAiConversation

router = APIRouter(prefix="/ai", tags=["ai"])

MAX_MESSAGES_PAGE = 200

Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=MAX_MESSAGES_PAGE, description="Messages per page.")]


@router.get(
    "/conversations",
    summary="Your conversations",
    description="Needs `ai:use`. Your own only, most recently active first.",
    responses=problem_responses(401, 403, 422),
)
async def list_conversations(
    principal: AiUser,
    paging: PagingQuery,
    use_case: Annotated[ListAiConversations, Inject(ListAiConversations)],
) -> Page[ConversationOut]:
    found = await use_case.execute(principal, page=paging.page, page_size=paging.page_size)
    return Page[ConversationOut](
        items=[ConversationOut.of(c) for c in found.items],
        total=found.total,
        page=paging.page,
        page_size=paging.page_size,
    )


async def _detail(
    use_case: ReadAiConversation,
    principal: Principal,
    conversation_id: str,
    cursor: str | None,
    limit: int,
) -> ConversationDetailOut:
    conversation, page = await use_case.execute(
        principal, conversation_id, cursor=cursor, limit=limit
    )
    return ConversationDetailOut(
        **ConversationOut.of(conversation).model_dump(),
        messages=MessagePageOut(
            items=[MessageOut.of(m) for m in page.items], next_cursor=page.next_cursor
        ),
    )


@router.get(
    "/conversations/{conversation_id}",
    summary="One of your conversations with its latest messages",
    description=(
        "Needs `ai:use`. Messages oldest first, the newest `limit` of them; "
        "`messages.next_cursor` (as `cursor`) reads older ones. Another user's or "
        "tenant's conversation is 404."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def get_conversation(
    conversation_id: str,
    principal: AiUser,
    use_case: Annotated[ReadAiConversation, Inject(ReadAiConversation)],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ConversationDetailOut:
    return await _detail(use_case, principal, conversation_id, cursor, limit)


HISTORY_REDIRECT = 308


@router.get(
    "/history",
    summary="Your conversations (history)",
    description=(
        "Needs `ai:use`. Your conversations, paged like `/conversations`. One conversation's "
        "messages are at `/history/{conversation_id}`; the older form "
        "`?conversation_id=` is answered with a 308 redirect there (keeping `cursor` and "
        "`limit`)."
    ),
    response_model=Page[ConversationOut],
    responses={
        **problem_responses(401, 403, 422),
        HISTORY_REDIRECT: {
            "description": "With `conversation_id`: go to `/history/{conversation_id}`.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
)
async def history(
    request: Request,
    principal: AiUser,
    paging: PagingQuery,
    conversations: Annotated[ListAiConversations, Inject(ListAiConversations)],
    conversation_id: Annotated[
        str | None,
        Query(
            max_length=64,
            deprecated=True,
            description="Deprecated: use `/history/{conversation_id}` (answered with 308).",
        ),
    ] = None,
) -> Page[ConversationOut] | Response:
    if conversation_id is None:
        return await list_conversations(principal, paging, conversations)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in ("cursor", "limit")]
    # Relative to this path, so it holds behind any prefix or proxy.
    location = "history/" + quote(conversation_id, safe="")
    if kept:
        location += "?" + urlencode(kept)
    return Response(status_code=HISTORY_REDIRECT, headers={"Location": location})


@router.get(
    "/history/{conversation_id}",
    summary="One of your conversations' messages",
    description=(
        "Needs `ai:use`. The conversation's messages oldest first, the newest `limit` of "
        "them; `next_cursor` (as `cursor`) reads older ones. Another user's or tenant's "
        "conversation is 404."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def history_messages(
    conversation_id: str,
    principal: AiUser,
    read: Annotated[ReadAiConversation, Inject(ReadAiConversation)],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> MessagePageOut:
    return (await _detail(read, principal, conversation_id, cursor, limit)).messages


@router.delete(
    "/conversations/{conversation_id}",
    status_code=204,
    summary="Delete one of your conversations",
    description="Needs `ai:use`. Stops its running answer, if any, and deletes its messages.",
    responses=problem_responses(401, 403, 404, 503),
)
async def delete_conversation(
    conversation_id: str,
    principal: AiUser,
    use_case: Annotated[DeleteAiConversation, Inject(DeleteAiConversation)],
) -> Response:
    await use_case.execute(principal, conversation_id)
    return Response(status_code=204)


@router.post(
    "/clear-history",
    status_code=204,
    summary="Delete all your conversations",
    description="Needs `ai:use`. Your own conversations only; other users' stay.",
    responses=problem_responses(401, 403, 503),
)
async def clear_history(
    principal: AiUser, use_case: Annotated[ClearAiHistory, Inject(ClearAiHistory)]
) -> Response:
    await use_case.execute(principal)
    return Response(status_code=204)
