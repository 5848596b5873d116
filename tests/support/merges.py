"""Contact merge test helpers: customers writing on a WhatsApp channel and on a channel of
another kind, and the merge call."""

from __future__ import annotations

from typing import Any, cast

import punq
from bson import ObjectId

from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import (
    Channel,
    ChannelRepository,
    ChannelType,
    TelegramSettings,
)
from api.domain.messaging.events import MessageReceived, Sender
from api.domain.tenancy import TenantId, tenant_context
from tests.support.app import AppClient
from tests.support.channels import whatsapp_channel
from tests.support.inbox import message_event, receive

CONTACTS = "/api/v1/contacts"
CONVERSATIONS = "/api/v1/conversations"


async def channel_of_type(
    container: punq.Container, tenant_id: str, graph_url: str, kind: ChannelType, account: str
) -> Channel:
    """A stored Telegram channel (bot `account`), whose API the test never calls."""
    assert kind is ChannelType.TELEGRAM
    box: SecretBox = container.resolve(SecretBox)
    channel = whatsapp_channel(box, graph_url, channel_id=None).model_copy(update={
        "type": kind,
        "settings": TelegramSettings(bot_id=account, api_base_url=graph_url),
    })  # fmt: skip
    with tenant_context(TenantId(tenant_id)):
        repository: ChannelRepository = container.resolve(ChannelRepository)
        return await repository.add(channel)


def written(user_id: str, phone: str | None, name: str, body: str = "Hello") -> MessageReceived:
    n = str(ObjectId())
    return message_event("text", text=body, external_id=f"wamid.{n}", key=f"message:{n}",
                         sender=Sender(user_id=user_id, phone=phone, name=name))  # fmt: skip


async def customer_on(
    container: punq.Container, channel: Channel, user_id: str, phone: str | None, name: str
) -> tuple[str, str]:
    """(contact id, conversation id) of a customer's first message on the channel."""
    message = await receive(container, written(user_id, phone, name), channel)
    assert message.contact_id is not None
    return message.contact_id, message.conversation_id


async def merge(
    client: AppClient, headers: dict[str, str], target: str, source: str
) -> dict[str, Any]:
    response = await client.post(f"{CONTACTS}/{target}/merge",
                                 json={"source_contact_id": source}, headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())
