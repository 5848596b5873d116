"""Helpers for transcript tests: a conversation with every kind of entry, asking for a
transcript and waiting for it."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import punq

from api.domain.errors import ParleyError
from api.domain.messaging.events import MessageReceived, Reaction, Sender
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageRepository,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.crm.transcripts import RunTranscript
from api.usecases.messaging.copy_inbound_media import CopyInboundMedia
from api.usecases.tenants.create_tenant import CreatedTenant
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import T0, channel_of, message_event, receive
from tests.support.people import signed_in

CONVERSATIONS = "/api/v1/conversations"
CUSTOMER = "Зоя Иванова"
AGENT = "Ada Lovelace"
EVIL = '=HYPERLINK("http://evil.example","x")'
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def from_zoya(kind: str, minutes: int, **changes: Any) -> MessageReceived:
    event = message_event(kind)
    return event.model_copy(
        update={
            "external_id": f"wamid.{kind}.{minutes}", "key": f"message:{kind}.{minutes}",
            "timestamp": T0 + timedelta(minutes=minutes),
            "sender": Sender(user_id="US.00000000000000000007", phone="447700900123",
                             name=CUSTOMER),
            **changes,
        }
    )  # fmt: skip


@dataclass
class Talk:
    """A conversation of `tenant` with every kind of entry (see `a_conversation`)."""

    conversation_id: str
    agent_id: str
    agent: dict[str, str]  # the agent's headers (an owner: every permission)
    image_file_id: str


async def a_conversation(
    client: httpx.AsyncClient,
    container: punq.Container,
    graph: FakeGraph,
    tenant: CreatedTenant,
    owner: dict[str, str],
    *,
    number: str = "111000111000",
    email: str = "ada@acme.example.com",
) -> Talk:
    """Zoya writes a text (09:00 UTC), a formula-looking text (09:01), an image (09:02,
    copied into storage), a location (09:03) and reacts 👍 to her first text (09:04); the
    agent Ada answers (09:05), writes a private note and resolves the conversation."""
    tenant_id = tenant.tenant.id or ""
    channel = await channel_of(container, tenant, graph, number)
    first = await receive(container, from_zoya("text", 0, text="Hello, my order is late"),
                          channel)  # fmt: skip
    await receive(container, from_zoya("text", 1, text=EVIL), channel)
    image_event = from_zoya("image", 2)
    assert image_event.media is not None
    graph.media[image_event.media.media_id] = ("image/png", PNG)
    image = await receive(container, image_event, channel)
    with tenant_context(TenantId(tenant_id)):
        copied = await container.resolve(CopyInboundMedia).execute(image.id or "")
    assert copied is not None
    await receive(container, from_zoya("location", 3), channel)
    reaction = from_zoya("reaction", 4, reaction=Reaction(message_id=first.external_id or "",
                                                          emoji="👍"))  # fmt: skip
    await receive(container, reaction, channel)
    ada, agent = await signed_in(client, tenant, owner, email, roles=["owner"], full_name=AGENT)
    with tenant_context(TenantId(tenant_id)):
        messages: MessageRepository = container.resolve(MessageRepository)
        await messages.add_once(
            Message(
                conversation_id=first.conversation_id, channel_id=channel.id or "",
                direction=Direction.OUTBOUND, type="text", text="Sorry! It ships today.",
                sender=MessageSender(type=SenderType.AGENT, id=ada["id"]),
                status=MessageStatus.DELIVERED, external_id="wamid.answer",
                created_at=T0 + timedelta(minutes=5),
            )
        )  # fmt: skip
    url = f"{CONVERSATIONS}/{first.conversation_id}"
    note = await client.post(f"{url}/notes", json={"body": "VIP, be kind"}, headers=agent)
    assert note.status_code == 201, note.text
    resolved = await client.post(f"{url}/resolve", headers=agent)
    assert resolved.status_code == 200, resolved.text
    return Talk(first.conversation_id, ada["id"], agent, copied.file_id)


def transcripts_url(conversation_id: str, transcript_id: str | None = None) -> str:
    base = f"{CONVERSATIONS}/{conversation_id}/transcripts"
    return base if transcript_id is None else f"{base}/{transcript_id}"


async def requested(
    client: httpx.AsyncClient, headers: dict[str, str], conversation_id: str, format: str
) -> dict[str, Any]:
    response = await client.post(
        transcripts_url(conversation_id), json={"format": format}, headers=headers
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def finished(
    client: httpx.AsyncClient,
    container: punq.Container | None,
    tenant: CreatedTenant,
    headers: dict[str, str],
    transcript: dict[str, Any],
) -> dict[str, Any]:
    """The transcript once its job has run: here when `container` is given (unless a
    session worker took it first), else by the worker."""
    if container is not None:
        with tenant_context(TenantId(tenant.tenant.id or "")), suppress(ParleyError):
            await container.resolve(RunTranscript).execute(transcript["id"])
    url = transcripts_url(transcript["conversation_id"], transcript["id"])
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("ready", "failed"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.1)


def local(at: datetime, offset_hours: int) -> str:
    return (at + timedelta(hours=offset_hours)).strftime("%Y-%m-%dT%H:%M:%S") + (
        f"+{offset_hours:02d}:00"
    )
