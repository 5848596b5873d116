"""AI chat (`/api/v1/ai`): models, streamed answers (SSE), conversations, settings, usage.

`POST /ask` answers `text/event-stream`. Everything that can fail before the model
speaks (permission, input, model, conversation, quota, provider down or missing the
model) is an ordinary problem response; after that, failures are `error` events. Events
ready together are written together; `: keep-alive` comments flow while the model is
quiet. When the client disconnects, Starlette cancels the response and the answer's
generation is cancelled with it: the upstream request is closed and the partial reply
saved.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.ai import (
    AiSettingsIn,
    AiSettingsOut,
    AskIn,
    ConversationDetailOut,
    ConversationOut,
    MessageOut,
    MessagePageOut,
    ModelListOut,
    ModelOut,
    UsageOut,
    UsageReportOut,
)
from api.interfaces.http.schemas.paging import Page, PagingQuery
from api.usecases.ai.answer import Answer
from api.usecases.ai.ask import Ask, Question
from api.usecases.ai.clear_ai_history import ClearAiHistory
from api.usecases.ai.delete_ai_conversation import DeleteAiConversation
from api.usecases.ai.events import Failed, Finished, KeepAlive, Started, StreamEvent, Token
from api.usecases.ai.get_ai_settings import GetAiSettings
from api.usecases.ai.get_usage import GetUsage
from api.usecases.ai.list_ai_conversations import ListAiConversations
from api.usecases.ai.list_models import ListModels
from api.usecases.ai.read_ai_conversation import ReadAiConversation
from api.usecases.ai.stop_generation import StopGeneration
from api.usecases.ai.update_ai_settings import AiSettingsChange, UpdateAiSettings

router = APIRouter(prefix="/ai", tags=["ai"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
MAX_MESSAGES_PAGE = 200

AiUser = Annotated[Principal, require(Permission.AI_USE)]
AiAdmin = Annotated[Principal, require(Permission.AI_MANAGE)]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=MAX_MESSAGES_PAGE, description="Messages per page.")]

_SSE_DOC = """Events (each `event: <name>` + `data: <json>`):

- `meta` `{conversation_id, message_id, user_message_id, model, provider}` first;
- `token` `{content}` for each piece of the reply, in order;
- `done` `{message_id, usage: {input_tokens, output_tokens, estimated}, partial,
  finish_reason}` at the end (`partial` with `finish_reason: "stopped"` after a stop);
- `error` `{code, detail, message_id}` when the provider fails or times out after the
  stream started (`message_id`: the partial reply saved, or null).

Comment lines (`: keep-alive`) come while the model is quiet. Failures before the model
speaks are problem responses instead: 404 unknown conversation or a model the provider
no longer has, 422 bad input or a model this tenant may not use, 429 the tenant's daily
token quota is spent, 503 the provider cannot be reached. A client that disconnects
stops the generation; what was produced is saved as a partial reply."""


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def encode(event: StreamEvent) -> bytes:
    match event:
        case Token(content):
            return sse("token", {"content": content})
        case KeepAlive():
            return KEEPALIVE
        case Started():
            return sse(
                "meta",
                {
                    "conversation_id": event.conversation_id,
                    "message_id": event.message_id,
                    "user_message_id": event.user_message_id,
                    "model": event.model.id,
                    "provider": event.model.provider.value,
                },
            )
        case Finished():
            return sse(
                "done",
                {
                    "message_id": event.message_id,
                    "usage": UsageOut.of(event.usage).model_dump(),
                    "partial": event.partial,
                    "finish_reason": event.finish_reason.value,
                },
            )
        case Failed():
            return sse(
                "error",
                {
                    "code": event.error.code,
                    "detail": event.error.detail,
                    "message_id": event.message_id,
                },
            )
    raise TypeError(event)


async def event_stream(answer: Answer) -> AsyncIterator[bytes]:
    async for batch in answer.events():
        yield b"".join(encode(event) for event in batch)


@router.get(
    "/models",
    summary="Models this tenant may use",
    description=(
        "Needs `ai:use`. Read from the providers (`/api/tags`, `/v1/models`, cached "
        "briefly), narrowed by the tenant's allow-list. 503 when no provider answers."
    ),
    responses=problem_responses(401, 403, 503),
)
async def list_models(
    principal: AiUser, use_case: Annotated[ListModels, Inject(ListModels)]
) -> ModelListOut:
    models, default = await use_case.execute(principal)
    return ModelListOut(items=[ModelOut.of(model, default) for model in models])


@router.post(
    "/ask",
    summary="Ask a model; the answer streams as server-sent events",
    description="Needs `ai:use`. " + _SSE_DOC,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 404, 422, 429, 503),
    },
)
async def ask(
    body: AskIn, principal: AiUser, use_case: Annotated[Ask, Inject(Ask)]
) -> StreamingResponse:
    answer = await use_case.start(
        principal,
        Question(message=body.message, model=body.model, conversation_id=body.conversation_id),
    )
    return StreamingResponse(
        event_stream(answer), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.post(
    "/conversations/{conversation_id}/stop",
    status_code=204,
    summary="Stop the running answer of a conversation",
    description=(
        "Needs `ai:use`; your own conversations only (else 404). Works whichever API "
        "replica runs the stream: that stream ends with `done` (`partial`, "
        '`finish_reason: "stopped"`) and the partial reply is saved. Nothing running: '
        "still 204."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def stop(
    conversation_id: str,
    principal: AiUser,
    use_case: Annotated[StopGeneration, Inject(StopGeneration)],
) -> Response:
    await use_case.execute(principal, conversation_id)
    return Response(status_code=204)


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


@router.get(
    "/history",
    summary="Your conversations, or one conversation's messages",
    description=(
        "Needs `ai:use`. Without `conversation_id`: your conversations (paged like "
        "`/conversations`). With it: that conversation's messages, oldest first, by "
        "cursor (`{items, next_cursor}`)."
    ),
    response_model=Page[ConversationOut] | MessagePageOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def history(
    principal: AiUser,
    paging: PagingQuery,
    conversations: Annotated[ListAiConversations, Inject(ListAiConversations)],
    read: Annotated[ReadAiConversation, Inject(ReadAiConversation)],
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ConversationOut] | MessagePageOut:
    if conversation_id is None:
        return await list_conversations(principal, paging, conversations)
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


@router.get(
    "/settings",
    summary="The tenant's AI settings",
    description="Needs `ai:manage`.",
    responses=problem_responses(401, 403),
)
async def get_settings(
    principal: AiAdmin, use_case: Annotated[GetAiSettings, Inject(GetAiSettings)]
) -> AiSettingsOut:
    return AiSettingsOut.of(await use_case.execute(principal))


@router.put(
    "/settings",
    summary="Replace the tenant's AI settings",
    description=(
        "Needs `ai:manage`. `allowed_models`: the model ids members may use (null: all "
        "the deployment offers); `default_model` must be among them; "
        "`daily_token_quota`: tokens in + out per UTC day (null: none), past it `/ask` is 429."
    ),
    responses=problem_responses(401, 403, 422),
)
async def put_settings(
    body: AiSettingsIn,
    principal: AiAdmin,
    use_case: Annotated[UpdateAiSettings, Inject(UpdateAiSettings)],
) -> AiSettingsOut:
    saved = await use_case.execute(
        principal,
        AiSettingsChange(
            allowed_models=body.allowed_models,
            default_model=body.default_model,
            daily_token_quota=body.daily_token_quota,
        ),
    )
    return AiSettingsOut.of(saved)


@router.get(
    "/usage",
    summary="Token usage per day, user and model",
    description=(
        "Needs `ai:manage`. UTC days from `since` to `until` inclusive (default: the last "
        "30 days), optionally one user's; with totals and today's use against the quota."
    ),
    responses=problem_responses(401, 403, 422),
)
async def usage(
    principal: AiAdmin,
    use_case: Annotated[GetUsage, Inject(GetUsage)],
    since: date | None = None,
    until: date | None = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> UsageReportOut:
    report = await use_case.execute(principal, since=since, until=until, user_id=user_id)
    return UsageReportOut.of(report)
