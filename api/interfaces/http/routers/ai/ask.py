"""Streamed answers (`/api/v1/ai`): `POST /ask` and stopping a running answer.

`POST /ask` answers `text/event-stream`. Everything that can fail before the model
speaks (permission, input, model, conversation, quota, provider down or missing the
model) is an ordinary problem response; after that, failures are `error` events. Events
ready together are written together; `: keep-alive` comments flow while the model is
quiet. When the client disconnects, Starlette cancels the response and the answer's
generation is cancelled with it: the upstream request is closed and the partial reply
saved.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.routers.ai.access import AiUser
from api.interfaces.http.routers.ai.sse import (
    SSE_EVENT_SCHEMA,
    EventStreamResponse,
    event_stream,
)
from api.interfaces.http.schemas.ai import AskIn
from api.usecases.ai.ask import Ask, Question
from api.usecases.ai.stop_generation import StopGeneration

router = APIRouter(prefix="/ai", tags=["ai"])

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
token quota is spent (each ask holds its prompt and the longest reply it may get, or
what is left when less, until it ends: not one token of reply left is 429), 503 the
provider cannot be reached. A client that disconnects
stops the generation; what was produced is saved as a partial reply."""


@router.post(
    "/ask",
    summary="Ask a model; the answer streams as server-sent events",
    description="Needs `ai:use`. " + _SSE_DOC,
    response_class=StreamingResponse,  # documents it (the answer is the subclass below)
    responses={
        200: {"content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}},
        **problem_responses(401, 403, 404, 422, 429, 503),
    },
)
async def ask(
    body: AskIn, principal: AiUser, use_case: Annotated[Ask, Inject(Ask)]
) -> EventStreamResponse:
    answer = await use_case.start(
        principal,
        Question(message=body.message, model=body.model, conversation_id=body.conversation_id),
    )
    return EventStreamResponse(event_stream(answer))


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
