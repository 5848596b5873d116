"""The socket's department filter (`DepartmentLookup`) with a fake conversation store:
an unlimited principal sees everything; a department-limited one only events of
conversations routed to their departments (presence always), learning a conversation's
department from its own events, reading it once otherwise, and following its moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from api.domain.messaging.channels import ChannelType
from api.domain.messaging.conversations import (
    ContactSummary,
    Conversation,
    ConversationRepository,
)
from api.domain.messaging.realtime import InboxEvent, InboxEventType
from api.interfaces.ws.inbox import MAX_KNOWN_DEPARTMENTS, DepartmentLookup
from api.usecases.messaging.get_conversation import GetConversation
from tests.support.identity import TENANT, principal

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
READER = principal("ada", {"inbox:read"})
LIMITED = READER.model_copy(update={"departments": frozenset({"sales"})})


def conversation(conversation_id: str, department_id: str | None) -> Conversation:
    return Conversation(
        id=conversation_id, tenant_id=TENANT, channel_id="ch", channel_type=ChannelType.WHATSAPP,
        contact=ContactSummary(id="c1"), department_id=department_id, created_at=T0,
        updated_at=T0,
    )  # fmt: skip


class Store:
    """What `GetConversation` reads: conversations by id, counting the reads."""

    def __init__(self, *found: Conversation) -> None:
        self.rows = {c.id: c for c in found}
        self.reads = 0

    async def get(self, conversation_id: str) -> Conversation | None:
        self.reads += 1
        return self.rows.get(conversation_id)


def lookup(store: Store) -> DepartmentLookup:
    return DepartmentLookup(GetConversation(cast(ConversationRepository, store)))


def message_event(conversation_id: str) -> InboxEvent:
    data: dict[str, Any] = {"id": "m1", "conversation_id": conversation_id}
    return InboxEvent(
        type=InboxEventType.MESSAGE_CREATED, tenant_id=TENANT,
        conversation_id=conversation_id, data=data,
    )  # fmt: skip


def conversation_event(conversation_id: str, department_id: str | None) -> InboxEvent:
    return InboxEvent.of_conversation(
        InboxEventType.CONVERSATION_UPDATED, conversation(conversation_id, department_id)
    )


PRESENCE = InboxEvent(type=InboxEventType.PRESENCE_UPDATED, tenant_id=TENANT, data={"u": 1})


async def test_an_unlimited_principal_sees_everything_without_reads() -> None:
    store = Store()
    filter = lookup(store)
    for event in (message_event("x"), conversation_event("y", "support"), PRESENCE):
        assert await filter.visible(READER, event)
    assert store.reads == 0


async def test_a_limited_principal_sees_only_its_departments() -> None:
    store = Store(conversation("a", "sales"), conversation("b", "support"), conversation("c", None))
    filter = lookup(store)
    assert await filter.visible(LIMITED, message_event("a"))
    assert not await filter.visible(LIMITED, message_event("b"))
    assert not await filter.visible(LIMITED, message_event("c"))  # not routed
    assert not await filter.visible(LIMITED, message_event("gone"))  # not found
    assert await filter.visible(LIMITED, PRESENCE)
    reads = store.reads
    for conversation_id in ("a", "b", "c", "gone"):  # read once each
        await filter.visible(LIMITED, message_event(conversation_id))
    assert store.reads == reads == 4


async def test_a_conversations_own_events_tell_its_moves() -> None:
    store = Store(conversation("b", "support"))
    filter = lookup(store)
    assert not await filter.visible(LIMITED, message_event("b"))
    assert await filter.visible(LIMITED, conversation_event("b", "sales"))  # moved in
    assert await filter.visible(LIMITED, message_event("b"))
    assert not await filter.visible(LIMITED, conversation_event("b", None))  # moved out
    assert not await filter.visible(LIMITED, message_event("b"))
    assert store.reads == 1
    # Membership: the principal's departments now, whatever was seen before.
    moved = READER.model_copy(update={"departments": frozenset({"sales", "support"})})
    assert await filter.visible(moved, conversation_event("b", "support"))


async def test_what_it_remembers_is_bounded() -> None:
    filter = lookup(Store())
    for n in range(MAX_KNOWN_DEPARTMENTS + 10):
        await filter.visible(LIMITED, conversation_event(f"c{n}", "sales"))
    known = filter._known  # the bound is the point
    assert len(known) == MAX_KNOWN_DEPARTMENTS
    assert "c0" not in known and f"c{MAX_KNOWN_DEPARTMENTS + 9}" in known
