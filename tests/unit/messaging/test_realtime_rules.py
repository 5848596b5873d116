"""The real-time use cases and frames with a fake feed: `inbox:read` and the token's
tenant, replay in pages with its limit, client frames validated with a reason, events in
the HTTP API's shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from api.domain.errors import Forbidden
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.realtime import (
    CursoredEvent,
    CursorExpired,
    Deliver,
    InboxEvent,
    InboxEventType,
    InvalidCursor,
    cursor_key,
)
from api.interfaces.ws.frames import (
    InvalidFrame,
    ResumeFrame,
    SubscribeFrame,
    event_frame,
    parse_frame,
    render_event,
)
from api.usecases.messaging.follow_inbox import REPLAY_PAGE, FollowInbox, ReplayInbox
from tests.support.identity import TENANT, principal

READER = principal("ada", {"inbox:read"})
MEMBER = principal("max", {"users:read"})


def event(n: int, tenant_id: str = TENANT) -> CursoredEvent:
    return CursoredEvent(
        cursor=f"{1000 + n}-0",
        event=InboxEvent(type=InboxEventType.CONVERSATION_UPDATED, tenant_id=tenant_id,
                         conversation_id="c1", data={"n": n}),
    )  # fmt: skip


class FakeFeed:
    def __init__(self, events: list[CursoredEvent]) -> None:
        self.events = events
        self.listening: dict[str, list[Deliver]] = {}
        self.reads = 0

    async def listen(self, tenant_id: str, deliver: Deliver) -> Callable[[], None]:
        self.listening.setdefault(tenant_id, []).append(deliver)
        return lambda: self.listening[tenant_id].remove(deliver)

    async def replay(self, tenant_id: str, after: str, *, limit: int) -> list[CursoredEvent]:
        self.reads += 1
        start = cursor_key(after)
        mine = [e for e in self.events if e.event.tenant_id == tenant_id]
        later = [e for e in mine if cursor_key(e.cursor) > start]
        return later[:limit]


async def replayed(feed: FakeFeed, cursor: str, max_events: int) -> list[int]:
    pages = ReplayInbox(feed).execute(READER, cursor, max_events=max_events)
    return [e.event.data["n"] async for page in pages for e in page]


async def test_following_needs_inbox_read_and_uses_the_tokens_tenant() -> None:
    feed = FakeFeed([])
    with pytest.raises(Forbidden):
        await FollowInbox(feed).execute(MEMBER, lambda _: None)
    release = await FollowInbox(feed).execute(READER, lambda _: None)
    assert list(feed.listening) == [TENANT] and len(feed.listening[TENANT]) == 1
    release()
    assert feed.listening[TENANT] == []
    with pytest.raises(Forbidden):
        await anext(ReplayInbox(feed).execute(MEMBER, "1-0", max_events=10))
    platform = READER.model_copy(update={"tenant_id": None})
    with pytest.raises(Forbidden):
        await FollowInbox(feed).execute(platform, lambda _: None)


async def test_replay_pages_through_and_stops_at_its_limit() -> None:
    many = REPLAY_PAGE + 20
    feed = FakeFeed([event(n) for n in range(many)] + [event(9999, tenant_id="other")])
    assert await replayed(feed, "1004-0", max_events=many) == list(range(5, many))
    assert feed.reads == 2
    assert await replayed(feed, f"{1000 + many}-0", max_events=10) == []
    with pytest.raises(CursorExpired):
        await replayed(feed, "1-0", max_events=many - 1)


def test_cursors_compare_in_log_order() -> None:
    assert cursor_key("1700000000000-2") > cursor_key("1700000000000-1") > cursor_key("999-9")
    for bad in ("", "12", "a-1", "1-b", "1-2-3", "-1", "9" * 50 + "-0"):
        with pytest.raises(InvalidCursor):
            cursor_key(bad)


def test_client_frames_are_validated_with_a_reason() -> None:
    assert parse_frame('{"type": "subscribe", "topic": "inbox", "extra": 1}') == SubscribeFrame(
        type="subscribe", topic="inbox"
    )
    assert isinstance(parse_frame('{"type": "resume", "cursor": "1-0"}'), ResumeFrame)
    for text, reason in (
        ("not json", "Invalid JSON"),
        ('{"type": "dance"}', "does not match any of the expected tags"),
        ('{"type": "subscribe", "topic": "everything"}', "subscribe.topic"),
        ('{"type": "auth"}', "auth.token"),
        ("[]", "object"),
    ):
        with pytest.raises(InvalidFrame) as raised:
            parse_frame(text)
        assert reason in raised.value.message, raised.value.message


def test_events_are_sent_in_the_http_shapes() -> None:
    message = Message(
        id="m1", tenant_id=TENANT, conversation_id="c1", channel_id="ch1", contact_id="k1",
        direction=Direction.INBOUND, type="text", text="Hi",
        sender=MessageSender(type=SenderType.CONTACT, id="k1"), status=MessageStatus.RECEIVED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    cursored = CursoredEvent(
        cursor="5-0", event=InboxEvent.of_message(InboxEventType.MESSAGE_CREATED, message)
    )
    frame = event_frame(cursored)
    assert frame["type"] == "message.created" and frame["cursor"] == "5-0"
    assert frame["data"]["id"] == "m1" and frame["data"]["created_at"] == "2026-01-01T00:00:00Z"
    assert not {"tenant_id", "contact_id", "pricing"} & set(frame["data"])
    assert render_event(cursored) is render_event(cursored)  # rendered once
    presence = CursoredEvent(
        cursor="6-0",
        event=InboxEvent(type=InboxEventType.PRESENCE_UPDATED, tenant_id=TENANT,
                         data={"user_id": "u1", "status": "online", "tenant_id": TENANT}),
    )  # fmt: skip
    assert event_frame(presence)["data"] == {"user_id": "u1", "status": "online"}
