"""Helpers for inbox tests: the Meta example payloads as events, a stored channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import punq

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelRepository
from api.domain.messaging.events import InboundEvent, MessageReceived, Sender, StatusUpdated
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.channels.whatsapp.webhook import parse_webhook
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.channels import whatsapp_channel
from tests.support.fake_graph import PHONE_NUMBER_ID, FakeGraph

FIXTURES = Path(__file__).parents[1] / "fixtures" / "whatsapp"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)  # when `from_customer` messages are sent
SENT_EXTERNAL_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


def events(name: str) -> list[InboundEvent]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return parse_webhook(payload)


def messages_in(name: str) -> list[MessageReceived]:
    return [e for e in events(name) if isinstance(e, MessageReceived)]


def message_event(name: str, **changes: Any) -> MessageReceived:
    found = messages_in(name)
    assert len(found) == 1, found
    return found[0].model_copy(update=changes)


def status_event(state: str, **changes: Any) -> StatusUpdated:
    found = [e for e in events(f"status_{state}") if isinstance(e, StatusUpdated)]
    assert len(found) == 1, found
    return found[0].model_copy(update=changes)


async def stored_channel(
    container: punq.Container,
    tenant_id: str,
    graph_url: str,
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> Channel:
    box: SecretBox = container.resolve(SecretBox)
    with tenant_context(TenantId(tenant_id)):
        channels: ChannelRepository = container.resolve(ChannelRepository)
        return await channels.add(
            whatsapp_channel(box, graph_url, channel_id=None, phone_number_id=phone_number_id)
        )


async def outbound_message(
    container: punq.Container, channel: Channel, external_id: str, conversation_id: str = "c1"
) -> Message:
    assert channel.id is not None and channel.tenant_id is not None
    with tenant_context(TenantId(channel.tenant_id)):
        messages: MessageRepository = container.resolve(MessageRepository)
        message, _ = await messages.add_once(
            Message(
                conversation_id=conversation_id, channel_id=channel.id,
                direction=Direction.OUTBOUND, type="text", text="Our offer",
                sender=MessageSender(type=SenderType.AGENT, id="u1"),
                status=MessageStatus.QUEUED, external_id=external_id,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )  # fmt: skip
    return message


def from_customer(n: int, minutes: int, name: str = "text") -> MessageReceived:
    """Customer `n`'s message (of the fixture `name`), `minutes` after `T0`."""
    event = message_event(name)
    return event.model_copy(
        update={
            "external_id": f"wamid.{name}.{n}.{minutes}",
            "key": f"message:{n}.{minutes}",
            "timestamp": T0 + timedelta(minutes=minutes),
            "sender": Sender(user_id=f"US.{n:020d}", phone=f"1650555{n:04d}", name=f"C{n}"),
        }
    )


async def channel_of(
    container: punq.Container, tenant: CreatedTenant, graph: FakeGraph, number: str
) -> Channel:
    """A WhatsApp channel of `tenant` with this phone number id, on the fake Graph API."""
    return await stored_channel(
        container, tenant.tenant.id or "", graph.base_url, phone_number_id=number
    )


async def receive(container: punq.Container, event: MessageReceived, channel: Channel) -> Message:
    """The inbound message stored as the webhook job would store it."""
    stored = await container.resolve(ReceiveInboundMessage).execute(event, channel)
    assert stored is not None
    return stored
