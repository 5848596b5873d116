"""`GET /api/v1/ws`: the agents' socket, the tenant's inbox events as they happen.

One `InboxSocket` per connection runs three tasks: the receiver (client frames), the
writer (the only one that sends, from a bounded outbox) and the ticker (heartbeats, the
idle timeout, the token's expiry and revocation). Events reach the outbox from the
process's one stream reader (`FollowInbox`), filtered by the socket's subscriptions; a
socket whose outbox overflows is closed (1013) rather than holding the reader or others.
The protocol, close codes included, is in the README ("Real time").

A department-limited user (`Principal.departments` set) gets only the events of
conversations routed to their departments (and agents' presence): the writer checks each
event against the departments the principal has now (re-read with the token at every
heartbeat), knowing a conversation's department from its own events, or else by reading
it once (`DepartmentLookup`, a bounded cache); when that read fails the socket closes
(1013: reconnect and resume) rather than drop or leak the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import punq
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from api.common.clock import utcnow
from api.config import RealtimeSettings
from api.domain.departments import department_scope
from api.domain.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    ParleyError,
    ServiceUnavailable,
    Unauthorized,
)
from api.domain.identity.auth import Principal
from api.domain.messaging.realtime import CursoredEvent, CursorExpired, InboxEvent, cursor_key
from api.domain.permissions import Permission
from api.domain.tenancy import TenantId, tenant_context
from api.interfaces.http.middleware.tenant import RESOLVED_TENANT
from api.interfaces.ws.frames import (
    AuthFrame,
    ClientFrame,
    CloseCode,
    InvalidFrame,
    PingFrame,
    ResumeFrame,
    SubscribeFrame,
    error_frame,
    parse_frame,
    render_event,
)
from api.usecases.identity.authenticate import AuthenticateSocket
from api.usecases.messaging.follow_inbox import FollowInbox, ReplayInbox
from api.usecases.messaging.get_conversation import GetConversation
from api.usecases.messaging.presence import RefreshPresence

log = logging.getLogger(__name__)

router = APIRouter(tags=["inbox"])

MAX_CONVERSATIONS = 200  # conversation subscriptions per socket
MAX_KNOWN_DEPARTMENTS = 5_000  # conversations whose department a limited socket remembers
CLOSE_SECONDS = 2.0

Outgoing = CursoredEvent | dict[str, Any]


class _Close(Exception):
    """End the socket: with this close code, or None when the client is already gone."""

    def __init__(self, code: CloseCode | None, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason.encode()[:120].decode(errors="ignore")  # a close reason: 123 B


def _close_for(error: ParleyError) -> _Close:
    if isinstance(error, Forbidden):  # a suspended tenant, another tenant, no permission
        return _Close(CloseCode.FORBIDDEN, error.detail)
    if isinstance(error, ServiceUnavailable):
        return _Close(CloseCode.TRY_AGAIN, "A service is unavailable: reconnect later.")
    return _Close(CloseCode.UNAUTHORIZED, error.detail)  # bad token, unknown tenant


class DepartmentLookup:
    """Which department each conversation is routed to, and its kind of channel, as far as
    one socket knows: from the conversations' own events (`data.department_id`,
    `data.channel_type`), else read once; the most recent `MAX_KNOWN_DEPARTMENTS` are
    remembered."""

    def __init__(self, conversations: GetConversation) -> None:
        self._conversations = conversations
        self._known: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    def _remember(
        self, conversation_id: str, department_id: str | None, channel_type: str | None
    ) -> None:
        self._known[conversation_id] = (department_id, channel_type)
        self._known.move_to_end(conversation_id)
        while len(self._known) > MAX_KNOWN_DEPARTMENTS:
            self._known.popitem(last=False)

    async def _facts(
        self, principal: Principal, conversation_id: str, event: InboxEvent
    ) -> tuple[str | None, str | None]:
        if event.type.startswith("conversation."):
            department, kind = event.data.get("department_id"), event.data.get("channel_type")
            self._remember(conversation_id, department if isinstance(department, str) else None,
                           kind if isinstance(kind, str) else None)  # fmt: skip
        elif conversation_id in self._known:
            self._known.move_to_end(conversation_id)
        else:
            try:
                with department_scope(None):  # its department, whichever it is
                    found = await self._conversations.execute(principal, conversation_id)
            except (NotFound, Forbidden):
                self._remember(conversation_id, None, None)
            else:
                self._remember(conversation_id, found.department_id, found.channel_type.value)
        return self._known[conversation_id]

    async def department_of(self, principal: Principal, event: InboxEvent) -> str | None:
        if event.conversation_id is None:
            return None
        return (await self._facts(principal, event.conversation_id, event))[0]

    async def channel_type_of(self, principal: Principal, event: InboxEvent) -> str | None:
        """The kind of channel of the event's conversation (None: presence, or unknown)."""
        if event.conversation_id is None:
            return None
        return (await self._facts(principal, event.conversation_id, event))[1]

    async def visible(self, principal: Principal, event: InboxEvent) -> bool:
        """Whether the principal may see the event: always, unless department-limited;
        then only events of conversations routed to one of their departments."""
        limited = principal.departments
        if limited is None or event.conversation_id is None:  # presence: not routed
            return True
        department = await self.department_of(principal, event)
        return department is not None and department in limited


class InboxSocket:
    def __init__(
        self, websocket: WebSocket, container: punq.Container, limits: RealtimeSettings
    ) -> None:
        self._ws = websocket
        self._limits = limits
        self._authenticate: AuthenticateSocket = container.resolve(AuthenticateSocket)
        self._follow: FollowInbox = container.resolve(FollowInbox)
        self._replay: ReplayInbox = container.resolve(ReplayInbox)
        self._conversations: GetConversation = container.resolve(GetConversation)
        self._departments = DepartmentLookup(self._conversations)
        self._presence: RefreshPresence = container.resolve(RefreshPresence)
        named = websocket.scope.get(RESOLVED_TENANT)
        self._named_tenant: str | None = str(named) if named is not None else None
        self._outbox: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=limits.queue_size)
        self._closing: asyncio.Future[_Close] = asyncio.get_running_loop().create_future()
        self._token = ""
        self._principal: Principal | None = None
        self._inbox = False
        self._inbox_types: frozenset[str] | None = None  # the inbox topic's channel kinds
        self._conversation_ids: set[str] = set()
        self._held: list[CursoredEvent] | None = None  # live events held while resuming
        self._invalid = 0
        self._heard = time.monotonic()

    async def run(self) -> None:
        try:
            principal = await self._sign_in()
        except _Close as close:
            await self._close(close)
            return
        with tenant_context(TenantId(principal.tenant_id or "")):
            await self._serve(principal)

    async def _serve(self, principal: Principal) -> None:
        try:
            release = await self._follow.execute(principal, self._deliver)
        except ParleyError as error:
            await self._close(_close_for(error))
            return
        tasks = [
            asyncio.create_task(self._guard(self._receive()), name="inbox-socket-receive"),
            asyncio.create_task(self._guard(self._write()), name="inbox-socket-write"),
            asyncio.create_task(self._guard(self._tick()), name="inbox-socket-tick"),
        ]
        try:
            await self._closing
        finally:
            release()
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=CLOSE_SECONDS)
        await self._close(self._closing.result())

    def _stop(self, close: _Close) -> None:
        if not self._closing.done():
            self._closing.set_result(close)

    async def _guard(self, work: Any) -> None:
        try:
            await work
        except _Close as close:
            self._stop(close)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("inbox socket failed")
            self._stop(_Close(CloseCode.INTERNAL, "Internal error."))

    async def _close(self, close: _Close) -> None:
        if close.code is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_SECONDS):  # a peer that reads nothing
                await self._ws.close(close.code, close.reason)

    # -- authentication ------------------------------------------------------------

    async def _sign_in(self) -> Principal:
        token = self._ws.query_params.get("access_token")
        if not token:
            try:
                async with asyncio.timeout(self._limits.auth_timeout_seconds):
                    text = await self._receive_text()
            except TimeoutError:
                raise _Close(CloseCode.UNAUTHORIZED, "No auth frame in time.") from None
            try:
                frame = parse_frame(text)
            except InvalidFrame:
                frame = None
            if not isinstance(frame, AuthFrame):
                raise _Close(CloseCode.UNAUTHORIZED, "The first frame must be an auth frame.")
            token = frame.token
        principal = await self._check(token)
        if not principal.can(Permission.INBOX_READ):
            needed = f"This needs the '{Permission.INBOX_READ}' permission."
            raise _Close(CloseCode.FORBIDDEN, needed)
        self._outbox.put_nowait(self._ready_frame(principal))
        return principal

    async def _check(self, token: str) -> Principal:
        """The token's principal (every check of sign-in again); `_Close` when refused."""
        try:
            principal = await self._authenticate.execute(token, self._named_tenant)
        except (Unauthorized, Forbidden, NotFound, InvalidInput, ServiceUnavailable) as error:
            raise _close_for(error) from None
        self._token, self._principal = token, principal
        return principal

    @property
    def _signed_in(self) -> Principal:
        if self._principal is None:
            raise RuntimeError("the socket is not signed in")
        return self._principal

    def _ready_frame(self, principal: Principal) -> dict[str, Any]:
        return {
            "type": "ready",
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "expires_at": principal.expires_at.isoformat(),
            "heartbeat_seconds": self._limits.heartbeat_seconds,
        }

    # -- receiving -----------------------------------------------------------------

    async def _receive_text(self) -> str:
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, OSError):
            raise _Close(None) from None
        if message["type"] == "websocket.disconnect":
            raise _Close(None)
        text: str | None = message.get("text")
        raw: bytes | None = message.get("bytes")
        size = len(text.encode()) if text is not None else len(raw or b"")
        if size > self._limits.max_frame_bytes:
            raise _Close(CloseCode.TOO_BIG, "Frame too large.")
        return text if text is not None else ""  # a binary frame is an invalid frame

    async def _receive(self) -> None:
        while True:
            text = await self._receive_text()
            self._heard = time.monotonic()
            try:
                frame = parse_frame(text)
            except InvalidFrame as invalid:
                self._invalid += 1
                if self._invalid > self._limits.max_invalid_frames:
                    raise _Close(CloseCode.POLICY, "Too many invalid frames.") from None
                self._enqueue(error_frame("invalid_frame", invalid.message))
                continue
            await self._handle(frame)

    async def _handle(self, frame: ClientFrame) -> None:
        if isinstance(frame, PingFrame):
            if frame.type == "ping":
                self._enqueue({"type": "pong"})
        elif isinstance(frame, AuthFrame):
            await self._reauthenticate(frame.token)
        elif isinstance(frame, SubscribeFrame):
            if frame.type == "subscribe":
                await self._subscribe(frame)
            else:
                self._unsubscribe(frame)
        else:
            await self._resume(frame)

    async def _reauthenticate(self, token: str) -> None:
        """A fresh token (before the current one expires) keeps the socket open."""
        current = self._principal
        principal = await self._check(token)
        if current is not None and principal.user_id != current.user_id:
            raise _Close(CloseCode.FORBIDDEN, "A socket keeps the user it signed in with.")
        self._enqueue(self._ready_frame(principal))

    async def _subscribe(self, frame: SubscribeFrame) -> None:
        principal = await self._check(self._token)  # tenant and permission, every time
        if frame.topic == "inbox":
            self._inbox = True
            kinds = frame.channel_types
            self._inbox_types = frozenset(k.value for k in kinds) if kinds else None
            answer: dict[str, Any] = {"type": "subscribed", "topic": "inbox"}
            if kinds:
                answer["channel_types"] = sorted(self._inbox_types or ())
            self._enqueue(answer)
            return
        if frame.id is None:
            self._enqueue(error_frame("invalid_frame", "id: a conversation topic needs an id"))
            return
        if len(self._conversation_ids) >= MAX_CONVERSATIONS:
            self._enqueue(
                error_frame(
                    "too_many_subscriptions",
                    f"At most {MAX_CONVERSATIONS} conversations per socket.",
                    topic="conversation",
                    id=frame.id,
                )
            )
            return
        try:
            with department_scope(principal.departments):
                await self._conversations.execute(principal, frame.id)
        except (NotFound, Forbidden) as error:
            code = "not_found" if isinstance(error, NotFound) else "forbidden"
            self._enqueue(error_frame(code, error.detail, topic="conversation", id=frame.id))
            return
        self._conversation_ids.add(frame.id)
        self._enqueue({"type": "subscribed", "topic": "conversation", "id": frame.id})

    def _unsubscribe(self, frame: SubscribeFrame) -> None:
        if frame.topic == "inbox":
            self._inbox = False
            self._enqueue({"type": "unsubscribed", "topic": "inbox"})
        elif frame.id is None:
            self._enqueue(error_frame("invalid_frame", "id: a conversation topic needs an id"))
        else:
            self._conversation_ids.discard(frame.id)
            self._enqueue({"type": "unsubscribed", "topic": "conversation", "id": frame.id})

    async def _resume(self, frame: ResumeFrame) -> None:
        """Replay what the current subscriptions missed after the cursor, then go on live:
        live events are held meanwhile and only those after the replay follow it."""
        self._held = []
        last, replayed = frame.cursor, 0
        try:
            pages = self._replay.execute(
                self._signed_in, frame.cursor, max_events=self._limits.replay_max_events
            )
            async for page in pages:
                for cursored in page:
                    last = cursored.cursor
                    if self._wants(cursored.event) and await self._departments.visible(
                        self._signed_in, cursored.event
                    ):
                        await self._outbox.put(cursored)  # the writer's pace
                        replayed += 1
        except (CursorExpired, InvalidInput, ServiceUnavailable) as error:
            self._enqueue(error_frame(error.code, error.detail, cursor=frame.cursor))
            last = max(last, frame.cursor, key=_safe_key)
        else:
            self._enqueue({"type": "resumed", "cursor": last, "replayed": replayed})
        finally:
            held, self._held = self._held, None
        after = _safe_key(last)
        for cursored in held:
            if _safe_key(cursored.cursor) > after:
                self._enqueue(cursored)

    # -- sending -------------------------------------------------------------------

    def _wants(self, event: InboxEvent) -> bool:
        return self._inbox or event.conversation_id in self._conversation_ids

    def _deliver(self, cursored: CursoredEvent) -> None:
        """Called by the process's stream reader: queue and return, never block it."""
        if self._closing.done() or not self._wants(cursored.event):
            return
        if self._held is not None:
            if len(self._held) >= self._limits.queue_size:
                self._stop(_Close(CloseCode.TRY_AGAIN, "Too slow: events were not read in time."))
            else:
                self._held.append(cursored)
            return
        self._enqueue(cursored)

    def _enqueue(self, item: Outgoing) -> None:
        try:
            self._outbox.put_nowait(item)
        except asyncio.QueueFull:
            self._stop(_Close(CloseCode.TRY_AGAIN, "Too slow: events were not read in time."))

    async def _of_kind(self, event: InboxEvent) -> bool:
        """Whether the event passes the inbox topic's channel kinds: always when none were
        asked for, for presence, and for a conversation subscribed to by its id."""
        if (
            self._inbox_types is None
            or event.conversation_id is None
            or event.conversation_id in self._conversation_ids
        ):
            return True
        return await self._departments.channel_type_of(self._signed_in, event) in self._inbox_types

    async def _write(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, CursoredEvent):
                try:
                    if not await self._departments.visible(self._signed_in, item.event):
                        continue
                    if not await self._of_kind(item.event):
                        continue
                except ServiceUnavailable:
                    raise _Close(CloseCode.TRY_AGAIN, "A service is unavailable.") from None
                text = render_event(item)
            else:
                text = json.dumps(item, separators=(",", ":"))
            try:
                await self._ws.send_text(text)
            except (WebSocketDisconnect, OSError, RuntimeError):
                raise _Close(None) from None

    async def _tick(self) -> None:
        limits = self._limits
        next_beat = time.monotonic() + limits.heartbeat_seconds
        while True:
            now = time.monotonic()
            expires_in = (self._signed_in.expires_at - utcnow()).total_seconds()
            wake = min(next_beat, self._heard + limits.idle_timeout_seconds, now + expires_in)
            await asyncio.sleep(max(0.0, wake - now))
            now = time.monotonic()
            if now >= self._heard + limits.idle_timeout_seconds:
                raise _Close(CloseCode.IDLE, "Nothing heard from the client in time.")
            if utcnow() >= self._signed_in.expires_at:
                raise _Close(CloseCode.UNAUTHORIZED, "The token expired: reconnect with a new one.")
            if now >= next_beat:
                next_beat = now + limits.heartbeat_seconds
                self._enqueue({"type": "heartbeat"})
                await self._check(self._token)  # revoked meanwhile (signed out, disabled)
                await self._refresh_presence()

    async def _refresh_presence(self) -> None:
        """A live socket keeps its agent's online/away presence from lapsing (best effort:
        a cache outage only lets it lapse)."""
        try:
            await self._presence.execute(self._signed_in)
        except ParleyError as error:
            log.warning("presence not refreshed: %s", error.code)


def _safe_key(cursor: str) -> tuple[int, int]:
    try:
        return cursor_key(cursor)
    except InvalidInput:
        return (0, 0)


@router.websocket("/ws", name="inbox_socket")
async def inbox_socket(websocket: WebSocket) -> None:
    """The inbox socket (not in OpenAPI, which cannot describe WebSockets: see the README)."""
    container: punq.Container = websocket.app.state.container
    limits: RealtimeSettings = container.resolve(RealtimeSettings)
    await websocket.accept()
    await InboxSocket(websocket, container, limits).run()
