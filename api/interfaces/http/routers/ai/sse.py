"""An answer's stream events as server-sent events: one write per batch of events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from api.interfaces.http.schemas.ai import UsageOut
from api.usecases.ai.answer import Answer
from api.usecases.ai.events import Failed, Finished, KeepAlive, Started, StreamEvent, Token

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"

# One event of the stream, as OpenAPI (before 3.2, without `itemSchema`) documents a
# `text/event-stream` response: the schema of each event's fields, `data` a JSON text.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["meta", "token", "done", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
    "required": ["event", "data"],
}


# One encoder for every event: `json.dumps` with `separators` builds a new one per call.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
# The per-token path: the same bytes as `sse("token", {"content": content})`, with the
# string escaped by the encoder's C function (`ensure_ascii`, as `json.dumps` does).
_quote = json.encoder.encode_basestring_ascii


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {_compact_json(data)}\n\n".encode()


def token_event(content: str) -> bytes:
    return f'event: token\ndata: {{"content":{_quote(content)}}}\n\n'.encode()


def encode(event: StreamEvent) -> bytes:
    match event:
        case Token(content):
            return token_event(content)
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
