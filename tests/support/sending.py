"""Helpers for the sending tests: a clock the test moves, a conversation whose customer
wrote at a given time, sending over HTTP and waiting for a message's status."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import punq
from bson import ObjectId

from api.common.clock import utcnow
from api.domain.messaging.channels import Channel
from api.domain.messaging.content import Recipient
from api.domain.messaging.events import MessageReceived, Sender
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.messaging.receive_inbound_message import ReceiveInboundMessage
from tests.support.app import use_clock as use_clock
from tests.support.inbox import message_event

MESSAGES = "/api/v1/messages"
CONVERSATIONS = "/api/v1/conversations"
CUSTOMER_PHONE = "16505551234"
CUSTOMER_BSUID = "US.13491208655302741918"


def inbound(
    at: datetime | None = None,
    *,
    n: int = 0,
    phone: str = CUSTOMER_PHONE,
    bsuid: str = CUSTOMER_BSUID,
) -> MessageReceived:
    return message_event("text").model_copy(
        update={
            "external_id": f"wamid.IN{n}.{phone}",
            "key": f"message:in{n}.{phone}",
            "timestamp": at or utcnow() - timedelta(minutes=5),
            "sender": Sender(user_id=bsuid, phone=phone, name="Sheena Nelson"),
        }
    )  # fmt: skip


async def customer_wrote(
    container: punq.Container, channel: Channel, at: datetime | None = None, **who: Any
) -> Message:
    """The customer's message at `at` (default: 5 minutes ago): the window is open."""
    message = await container.resolve(ReceiveInboundMessage).execute(inbound(at, **who), channel)
    assert message is not None
    return message


async def send(
    http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await http.post(MESSAGES, json=body, headers={**headers, **extra})


async def queued(http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await send(http, headers, body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return response.json()


async def settled(
    http: httpx.AsyncClient, headers: dict[str, str], message_id: str, seconds: float = 60
) -> dict[str, Any]:
    """The message once it left `queued` (polled over HTTP)."""
    deadline = time.monotonic() + seconds
    while True:
        response = await http.get(f"{MESSAGES}/{message_id}", headers=headers)
        assert response.status_code == 200, response.text
        body = cast(dict[str, Any], response.json())
        if body["status"] != "queued":
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} still queued after {seconds} s")
        await asyncio.sleep(0.1)


PHONE = "+15550001234"
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def queued_message(container: punq.Container, channel: Channel, text: str) -> str:
    """A queued text to `PHONE`, carrying its recipient, in a conversation that does not
    exist: a send that read the conversation would fail it."""
    assert channel.id is not None and channel.tenant_id is not None
    messages: MessageRepository = container.resolve(MessageRepository)
    with tenant_context(TenantId(channel.tenant_id)):
        message, _ = await messages.add_once(
            Message(
                conversation_id=str(ObjectId()), channel_id=channel.id,
                direction=Direction.OUTBOUND, type="text", text=text,
                content={"kind": "text", "body": text},
                sender=MessageSender(type=SenderType.AGENT, id="u1"),
                status=MessageStatus.QUEUED, status_timestamps={"queued": CREATED},
                created_at=CREATED, recipient=Recipient(phone=PHONE),
            )
        )  # fmt: skip
    assert message.id is not None
    return message.id


async def stored(container: punq.Container, channel: Channel, message_id: str) -> Message:
    messages: MessageRepository = container.resolve(MessageRepository)
    with tenant_context(TenantId(channel.tenant_id or "")):
        found = await messages.get(message_id)
    assert found is not None
    return found
