"""Bound every request body before anything parses it (pure ASGI: nothing is buffered).

Each route's limit is named by a marker on its endpoint, `@body_limit(BodyLimit.UPLOAD)`;
a route without one gets `BodyLimit.JSON` (`MAX_JSON_BODY_BYTES`). The limit is looked up
when the app first asks for the body, so routing has happened, and a route that reads its
body itself (uploads, avatars) has authenticated the caller first. Then:

- a `Content-Length` above the limit is refused at once, before a byte is read;
- otherwise the `http.request` messages are counted, and the one that passes the limit
  is refused: its bytes are never handed to the app.

The refusal is a 413 problem naming the limit, sent from here. `BodyTooLarge` is raised
into the app (which stops reading); whatever it answers afterwards is dropped, and the
error is swallowed here. What the client still sends after an answer is read and discarded
by the server (uvicorn keeps the connection; closing it with unread bytes would reset it
and lose the answer): no disk, no memory, only bandwidth, which a reverse proxy's own
body limit can spare.

A new kind of route (a webhook) adds a `BodyLimit` member and its entry in `limits_for`,
reading its own setting, and marks its endpoint with the decorator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import Settings
from api.interfaces.http.problems import problem_response, send_problem

MULTIPART_FRAMING = 64 * 1024  # room beyond the file for boundaries, part headers, fields
_MARKER = "__parley_body_limit__"

F = TypeVar("F", bound=Callable[..., Any])


class BodyLimit(StrEnum):
    """The kinds of request body, each with a limit of its own."""

    JSON = "json"  # every route that names no other: MAX_JSON_BODY_BYTES
    UPLOAD = "upload"  # multipart, a file of at most MAX_UPLOAD_BYTES
    AVATAR = "avatar"  # multipart, an image of at most MAX_AVATAR_BYTES
    WEBHOOK = "webhook"  # a provider's webhook delivery: MAX_WEBHOOK_BODY_BYTES
    IMPORT = "import"  # multipart, a contact import's file of at most IMPORT_MAX_BYTES
    CALLBACK_FORM = "callback_form"  # the public callback form: CALLBACK_MAX_BODY_BYTES


@dataclass(frozen=True)
class Limit:
    max_bytes: int  # the whole body
    detail: str  # the 413's detail


def limits_for(settings: Settings) -> dict[BodyLimit, Limit]:
    """Every kind's limit, from the settings."""
    json_bytes = settings.max_json_body_bytes
    upload, avatar = settings.storage.max_upload_bytes, settings.storage.max_avatar_bytes
    webhook = settings.max_webhook_body_bytes
    return {
        BodyLimit.JSON: Limit(
            json_bytes, f"The request body is larger than the limit of {json_bytes} bytes."
        ),
        BodyLimit.UPLOAD: Limit(upload + MULTIPART_FRAMING, _file_detail(upload)),
        BodyLimit.AVATAR: Limit(avatar + MULTIPART_FRAMING, _file_detail(avatar)),
        BodyLimit.WEBHOOK: Limit(
            webhook, f"The webhook delivery is larger than the limit of {webhook} bytes."
        ),
        BodyLimit.IMPORT: Limit(
            settings.imports.max_bytes + MULTIPART_FRAMING, _file_detail(settings.imports.max_bytes)
        ),
        BodyLimit.CALLBACK_FORM: Limit(
            settings.callbacks.max_body_bytes,
            f"The form is larger than the limit of {settings.callbacks.max_body_bytes} bytes.",
        ),
    }


def _file_detail(limit: int) -> str:
    return f"The request body is too large: the file may be at most {limit} bytes."


def body_limit(kind: BodyLimit) -> Callable[[F], F]:
    """Mark a route's endpoint with the limit of its body (put it under `@router.post`)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _MARKER, kind)
        return endpoint

    return mark


class BodyTooLarge(Exception):
    """Raised into the app when its request body passed the limit (the 413 is sent)."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.limits: Mapping[BodyLimit, Limit] = limits_for(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = _Guard(scope, receive, send, self.limits)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception as exc:
            if not (guard.answered and _caused_by_refusal(exc)):
                raise


class _Guard:
    """One request: counts its body and refuses it past the limit."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, limits: Mapping[BodyLimit, Limit]
    ) -> None:
        self._scope, self._receive, self._send, self._limits = scope, receive, send, limits
        self._limit: Limit | None = None
        self._received = 0
        self._started = False
        self.answered = False  # the 413 was sent from here

    async def receive(self) -> Message:
        if self.answered:
            raise BodyTooLarge
        limit = self._limit
        if limit is None:
            limit = self._limit = self._limits[_kind_of(self._scope)]
            declared = _content_length(self._scope)
            if declared is not None and declared > limit.max_bytes:
                await self._refuse(limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > limit.max_bytes:
                await self._refuse(limit)
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the 413 went out; the app's own answer is dropped
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)

    async def _refuse(self, limit: Limit) -> NoReturn:
        if not self._started:
            self._started = self.answered = True
            response = problem_response(
                413, "payload_too_large", limit.detail, title="Payload too large"
            )
            await send_problem(self._send, response)
        raise BodyTooLarge


def _kind_of(scope: Scope) -> BodyLimit:
    kind = getattr(scope.get("endpoint"), _MARKER, BodyLimit.JSON)
    return kind if isinstance(kind, BodyLimit) else BodyLimit.JSON


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            found: bytes = value
            return found
    return None


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


def _caused_by_refusal(exc: BaseException) -> bool:
    """`exc` is `BodyTooLarge`, or was raised while handling it (however it was wrapped)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BodyTooLarge):
            return True
        if isinstance(current, BaseExceptionGroup):
            return all(_caused_by_refusal(inner) for inner in current.exceptions)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
