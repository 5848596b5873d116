"""`ReceiveInboundMessage` against the real database: every Meta example payload becomes
the right message in the right conversation; contacts by BSUID and wa_id; concurrency
and redelivery; replies, reactions, edits, deletions, system changes, unsupported."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from datetime import timedelta

import punq
import pytest
from bson import ObjectId
from redis.asyncio import Redis

from api.domain.messaging.channels import Channel
from api.domain.messaging.contacts import ContactRepository
from api.domain.messaging.conversations import SERVICE_WINDOW, ConversationRepository
from api.domain.messaging.events import MessageKind, MessageReceived, Sender
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.handle_inbox_events import HandleInboxEvents
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import FIXTURE_NAMES, events, message_event, messages_in, stored_channel
from tests.support.realtime import published

BSUID = "US.13491208655302741918"
MESSAGE_FIXTURES = [name for name in FIXTURE_NAMES if messages_in(name)]


@pytest.fixture
async def channel(container: punq.Container, graph: FakeGraph) -> Channel:
    return await stored_channel(container, str(ObjectId()), graph.base_url)


async def receive(container: punq.Container, event: MessageReceived, channel: Channel) -> Message:
    message = await container.resolve(ReceiveInboundMessage).execute(event, channel)
    assert message is not None
    return message


def scoped(channel: Channel) -> AbstractContextManager[None]:
    assert channel.tenant_id is not None
    return tenant_context(TenantId(channel.tenant_id))


@pytest.mark.parametrize("name", MESSAGE_FIXTURES)
async def test_every_message_type_becomes_a_message(
    container: punq.Container, channel: Channel, name: str
) -> None:
    for event in messages_in(name):
        message = await receive(container, event, channel)
        assert message.type == event.kind.value and message.external_id == event.external_id
        assert message.direction == "inbound" and message.status == "received"
        assert message.channel_id == channel.id and message.sender.type == "contact"
        assert message.created_at == event.timestamp
        with scoped(channel):
            conversation = await container.resolve(ConversationRepository).get(
                message.conversation_id
            )
            contact = await container.resolve(ContactRepository).get(message.sender.id or "")
        assert conversation is not None and contact is not None
        assert conversation.contact.id == contact.id and conversation.status == "open"
        assert conversation.last_inbound_at == event.timestamp
        assert conversation.window_expires_at is not None
        assert (conversation.window_expires_at - event.timestamp).total_seconds() == 86400
        if event.media is not None:
            assert message.content["media"]["media_id"] == event.media.media_id
        if event.kind is MessageKind.TEXT:
            assert message.text == event.text


async def test_text_opens_a_conversation_with_the_contact(
    container: punq.Container, channel: Channel
) -> None:
    message = await receive(container, message_event("text"), channel)
    assert message.text == "Does it come in another color?"
    with scoped(channel):
        contact = await container.resolve(ContactRepository).get(message.contact_id or "")
        conversation = await container.resolve(ConversationRepository).get(message.conversation_id)
    assert contact is not None and conversation is not None
    assert (contact.bsuid, contact.wa_id, contact.phone) == (BSUID, "16505551234", "+16505551234")
    assert contact.name == "Sheena Nelson" and contact.source == "inbound"
    assert conversation.unread_count == 1 and conversation.channel_type == "whatsapp"
    assert conversation.contact.phone == "+16505551234"


async def test_username_only_customer_has_no_number(
    container: punq.Container, channel: Channel
) -> None:
    message = await receive(container, message_event("username_only"), channel)
    with scoped(channel):
        contact = await container.resolve(ContactRepository).get(message.contact_id or "")
    assert contact is not None
    assert contact.bsuid == "US.77771208655302741918" and contact.username == "@kai.design"
    assert contact.wa_id is None and contact.phone is None and contact.name == "Kai"


async def test_next_messages_join_the_conversation_and_refresh_the_name(
    container: punq.Container, channel: Channel
) -> None:
    first = await receive(container, message_event("text"), channel)
    renamed = message_event("image")
    renamed = renamed.model_copy(
        update={"sender": renamed.sender.model_copy(update={"name": "Sheena N."})}
    )
    second = await receive(container, renamed, channel)
    assert second.conversation_id == first.conversation_id
    assert second.contact_id == first.contact_id
    with scoped(channel):
        contact = await container.resolve(ContactRepository).get(first.contact_id or "")
        conversation = await container.resolve(ConversationRepository).get(first.conversation_id)
    assert contact is not None and contact.name == "Sheena N."
    assert conversation is not None and conversation.unread_count == 2
    assert conversation.contact.name == "Sheena N."


async def test_concurrent_first_messages_make_one_contact_and_one_conversation(
    container: punq.Container, channel: Channel
) -> None:
    text = message_event("text")
    burst = [
        text.model_copy(update={"external_id": f"wamid.BURST{i}", "key": f"message:{i}"})
        for i in range(12)
    ]
    stored = await asyncio.gather(*(receive(container, e, channel) for e in burst))
    assert len({m.id for m in stored}) == 12
    assert len({m.contact_id for m in stored}) == 1
    assert len({m.conversation_id for m in stored}) == 1
    with scoped(channel):
        conversation = await container.resolve(ConversationRepository).get(
            stored[0].conversation_id
        )
        page = await container.resolve(MessageRepository).page(
            stored[0].conversation_id, cursor=None, limit=100
        )
    assert conversation is not None and conversation.unread_count == 12
    assert len(page.items) == 12


async def test_a_repeated_event_stores_one_message(
    container: punq.Container, channel: Channel
) -> None:
    text = message_event("text")
    concurrent = await asyncio.gather(*(receive(container, text, channel) for _ in range(4)))
    first = concurrent[0]
    again = await asyncio.gather(*(receive(container, text, channel) for _ in range(3)))
    assert {m.id for m in [*concurrent, *again]} == {first.id}
    with scoped(channel):
        page = await container.resolve(MessageRepository).page(
            first.conversation_id, cursor=None, limit=100
        )
        conversation = await container.resolve(ConversationRepository).get(first.conversation_id)
    assert [m.id for m in page.items] == [first.id]
    assert conversation is not None and conversation.unread_count == 1  # counted once


async def test_an_event_again_after_a_stopped_run_moves_its_conversation_on(
    container: punq.Container, channel: Channel
) -> None:
    """A run that stopped between storing the message and noting it on the conversation:
    the event again (Meta's retry, or the job's) moves the activity and the window."""
    first = await receive(container, message_event("text"), channel)
    later = message_event("text").model_copy(update={
        "key": "wamid.STOPPED", "external_id": "wamid.STOPPED",
        "timestamp": first.created_at + timedelta(hours=3),
    })  # fmt: skip
    with scoped(channel):
        assert channel.id is not None
        stored, created = await container.resolve(MessageRepository).add_once(Message(
            conversation_id=first.conversation_id, channel_id=channel.id,
            contact_id=first.contact_id, direction=Direction.INBOUND, type="text", text="hi",
            sender=MessageSender(type=SenderType.CONTACT, id=first.contact_id),
            status=MessageStatus.RECEIVED, external_id=later.external_id,
            created_at=later.timestamp,
        ))  # fmt: skip
        assert created
        conversations = container.resolve(ConversationRepository)
        before = await conversations.get(first.conversation_id)
    assert before is not None and before.last_message_at == first.created_at
    assert (await receive(container, later, channel)).id == stored.id
    with scoped(channel):
        after = await conversations.get(first.conversation_id)
    assert after is not None and after.last_message_at == later.timestamp
    assert after.window_expires_at == later.timestamp + SERVICE_WINDOW
    assert after.unread_count == 1  # the stopped run's message may have been counted: not again


async def test_replies_reactions_edits_and_deletions_find_their_target(
    container: punq.Container, channel: Channel
) -> None:
    earlier = message_event("text", external_id="wamid.SENT_EARLIER", key="message:earlier")
    target = await receive(container, earlier, channel)
    reply = await receive(container, message_event("reply_context"), channel)
    assert reply.reply_to_id == target.id and reply.content["forwarded"] is True
    await receive(container, message_event("reaction"), channel)
    with scoped(channel):
        reacted = await container.resolve(MessageRepository).get(target.id or "")
    assert reacted is not None and reacted.content["reaction"] == "\U0001f600"

    original = await receive(container, message_event("text"), channel)  # wamid.TEXT01
    edit = await receive(container, message_event("edit"), channel)
    assert edit.type == "edit" and edit.text == "Does it come in another colour?"
    revoke = message_event("revoke")
    await receive(container, revoke, channel)
    with scoped(channel):
        edited = await container.resolve(MessageRepository).get(original.id or "")
        deleted = await container.resolve(MessageRepository).by_external_id(
            channel.id or "", revoke.target_id or ""
        )
    assert edited is not None and edited.text == "Does it come in another colour?"
    assert edited.content["original_text"] == "Does it come in another color?"
    assert "edited_at" in edited.content
    assert deleted is not None and "deleted_at" in deleted.content


async def test_a_reply_to_an_unknown_message_keeps_the_provider_id(
    container: punq.Container, channel: Channel
) -> None:
    reply = await receive(container, message_event("reply_context"), channel)
    assert reply.reply_to_id is None and reply.reply_to_external_id == "wamid.SENT_EARLIER"


async def test_unsupported_keeps_the_error(container: punq.Container, channel: Channel) -> None:
    message = await receive(container, message_event("unsupported"), channel)
    assert message.type == "unsupported" and message.error is not None
    assert message.error.code == 131051 and message.error.title == "Message type unknown"
    assert message.error.details == "Message type is currently not supported."


async def test_system_messages_change_the_contact(
    container: punq.Container, channel: Channel
) -> None:
    first = await receive(container, message_event("text"), channel)
    await receive(container, message_event("system_user_changed_number"), channel)
    with scoped(channel):
        contact = await container.resolve(ContactRepository).get(first.contact_id or "")
    assert contact is not None and contact.wa_id == "16505559999"
    assert contact.phone == "+16505559999" and contact.bsuid == BSUID

    changed = await receive(container, message_event("system_user_changed_user_id"), channel)
    assert changed.contact_id == first.contact_id and changed.type == "system"
    with scoped(channel):
        contact = await container.resolve(ContactRepository).get(first.contact_id or "")
    assert contact is not None and contact.bsuid == "US.99991208655302741918"


async def test_a_message_naming_nobody_is_ignored(
    container: punq.Container, channel: Channel
) -> None:
    nobody = message_event("text", sender=Sender())
    assert await container.resolve(ReceiveInboundMessage).execute(nobody, channel) is None


async def test_the_inbox_handler_takes_every_event_of_a_delivery(
    container: punq.Container, channel: Channel
) -> None:
    handler = container.resolve(HandleInboxEvents)
    assert handler.event_types == {
        "message_received", "status_updated", "marketing_preference", "message_echoed",
    }  # fmt: skip
    for event in events("batch"):
        await handler.handle(channel, event)
    with scoped(channel):
        found = [
            await container.resolve(MessageRepository).by_external_id(
                channel.id or "", e.external_id
            )
            for e in events("batch")
            if isinstance(e, MessageReceived)
        ]
    assert found and all(m is not None for m in found)


async def test_agents_are_told_of_each_new_message_once(
    container: punq.Container, channel: Channel, redis_client: Redis
) -> None:
    first = await receive(container, message_event("text"), channel)
    await receive(container, message_event("text"), channel)  # redelivered: nothing new
    second = await receive(container, message_event("text", external_id="wamid.second"), channel)

    events = await published(redis_client, channel.tenant_id)
    assert [e.type for e in events] == [
        "conversation.created", "message.created", "conversation.updated", "message.created",
    ]  # fmt: skip
    assert {e.conversation_id for e in events} == {first.conversation_id}
    assert [e.data["id"] for e in events if e.type == "message.created"] == [first.id, second.id]
    assert events[2].data["unread_count"] == 2


async def test_a_reaction_updates_its_target_for_agents(
    container: punq.Container, channel: Channel, redis_client: Redis
) -> None:
    target = await receive(container, message_event("text"), channel)
    reaction = message_event("reaction")
    assert reaction.reaction is not None
    emoji = reaction.reaction.emoji
    reaction = reaction.model_copy(
        update={"reaction": reaction.reaction.model_copy(update={"message_id": target.external_id})}
    )
    await receive(container, reaction, channel)

    updated = [e for e in await published(redis_client, channel.tenant_id)
               if e.type == "message.updated"]  # fmt: skip
    assert [e.data["id"] for e in updated] == [target.id]
    assert updated[0].data["content"]["reaction"] == emoji
