"""Helpers for inbox tests: the Meta example payloads as events, a stored channel."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import punq

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelRepository, SecretName
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


def text_delivery(number: str, *messages: tuple[str, str, str]) -> bytes:
    """A WhatsApp delivery to the number `number` (its phone number id), as Meta sends it:
    one text message per (wamid, sender's wa_id, text), in one batch."""
    payload: dict[str, Any] = json.loads((FIXTURES / "text.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = number
    profile = value["contacts"][0]["profile"]
    value["contacts"] = [{"profile": profile, "wa_id": phone} for _, phone, _ in messages]
    value["messages"] = [
        {"from": phone, "id": wamid, "timestamp": str(int(time.time())), "type": "text",
         "text": {"body": text}}
        for wamid, phone, text in messages
    ]  # fmt: skip
    return json.dumps(payload).encode()


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
    app_secret: str | None = None,
) -> Channel:
    """A WhatsApp channel of the tenant (with its own app secret, which signs deliveries
    to its webhook URL, when `app_secret` is given)."""
    box: SecretBox = container.resolve(SecretBox)
    channel = whatsapp_channel(box, graph_url, channel_id=None, phone_number_id=phone_number_id)
    if app_secret is not None:
        secrets = channel.secrets.with_secret(SecretName.APP_SECRET, box.encrypt(app_secret))
        channel = channel.model_copy(update={"secrets": secrets})
    with tenant_context(TenantId(tenant_id)):
        channels: ChannelRepository = container.resolve(ChannelRepository)
        return await channels.add(channel)


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
    container: punq.Container,
    tenant: CreatedTenant,
    graph: FakeGraph,
    number: str,
    *,
    app_secret: str | None = None,
) -> Channel:
    """A WhatsApp channel of `tenant` with this phone number id, on the fake Graph API."""
    return await stored_channel(
        container, tenant.tenant.id or "", graph.base_url, phone_number_id=number,
        app_secret=app_secret,
    )  # fmt: skip


async def receive(container: punq.Container, event: MessageReceived, channel: Channel) -> Message:
    """The inbound message stored as the webhook job would store it."""
    stored = await container.resolve(ReceiveInboundMessage).execute(event, channel)
    assert stored is not None
    return stored
