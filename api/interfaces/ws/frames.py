"""The frames of the inbox socket: what clients send (validated) and what the server sends
(events in the HTTP API's shapes, replies, errors), and the close codes."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import Conversation
from api.domain.messaging.messages import Message
from api.domain.messaging.realtime import CursoredEvent
from api.interfaces.http.schemas.inbox import InboxConversationOut, InboxMessageOut

log = logging.getLogger(__name__)

RENDERED_KEPT = 256  # events rendered once for every socket of the process that sends them


class CloseCode(IntEnum):
    """Why the server closed a socket (4xxx: Parley's own, mirroring HTTP). uvicorn closes
    open sockets with 1012 when the server restarts: reconnect and resume."""

    POLICY = 1008  # too many invalid frames
    TOO_BIG = 1009  # a frame over REALTIME_MAX_FRAME_BYTES
    INTERNAL = 1011
    TRY_AGAIN = 1013  # a slow consumer (its queue overflowed), or Redis is down
    UNAUTHORIZED = 4401  # no, bad, expired or revoked token; no `auth` frame in time
    FORBIDDEN = 4403  # no `inbox:read`, a suspended tenant, another tenant's header
    IDLE = 4408  # nothing heard from the client for REALTIME_IDLE_TIMEOUT_SECONDS


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=8192)


class SubscribeFrame(_Frame):
    type: Literal["subscribe", "unsubscribe"]
    topic: Literal["inbox", "conversation"]
    id: str | None = Field(default=None, min_length=1, max_length=64)
    # The inbox topic only: the kinds of channel whose conversations' events come (none:
    # every kind).
    channel_types: list[ChannelType] | None = Field(default=None, max_length=4)


class ResumeFrame(_Frame):
    type: Literal["resume"]
    cursor: str = Field(min_length=3, max_length=41)


class PingFrame(_Frame):
    type: Literal["ping", "pong"]


ClientFrame = Annotated[
    AuthFrame | SubscribeFrame | ResumeFrame | PingFrame, Field(discriminator="type")
]
client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class InvalidFrame(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_frame(text: str) -> ClientFrame:
    """The client frame in `text`; `InvalidFrame` with a short reason otherwise."""
    try:
        return client_frame.validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidFrame(f"{where}: {first['msg']}" if where else first["msg"]) from None


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


def _shape(cursored: CursoredEvent) -> dict[str, Any]:
    event = cursored.event
    family = event.type.value.partition(".")[0]
    try:
        if family == "message":
            message = InboxMessageOut.of(Message.model_validate(event.data))
            return message.model_dump(mode="json")
        if family == "conversation":
            conversation = InboxConversationOut.of(Conversation.model_validate(event.data))
            return conversation.model_dump(mode="json")
    except ValidationError:
        log.warning("inbox event %s is not a %s: sent as stored", cursored.cursor, family)
    return {k: v for k, v in event.data.items() if k != "tenant_id"}


def event_frame(cursored: CursoredEvent) -> dict[str, Any]:
    """`{type, data, cursor}`: `data` is what the HTTP API answers for that entity."""
    return {"type": cursored.event.type.value, "data": _shape(cursored), "cursor": cursored.cursor}


_rendered: OrderedDict[tuple[str, str], str] = OrderedDict()


def render_event(cursored: CursoredEvent) -> str:
    """`event_frame` as JSON text, made once per event however many sockets send it."""
    key = (cursored.event.tenant_id, cursored.cursor)
    text = _rendered.get(key)
    if text is None:
        text = json.dumps(event_frame(cursored), separators=(",", ":"))
        _rendered[key] = text
        if len(_rendered) > RENDERED_KEPT:
            _rendered.popitem(last=False)
    return text
