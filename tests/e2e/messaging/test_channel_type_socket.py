"""The socket's inbox topic narrowed to kinds of channel (`channel_types`): only the
events of conversations on those kinds come, live (a conversation subscribed to by its id
comes whatever its kind), over real TCP against uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.config import Settings
from api.domain.messaging.channels import ChannelType
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import receive, stored_channel
from tests.support.merges import channel_of_type, written
from tests.support.people import two_tenants
from tests.support.sockets import (
    LiveServer,
    frame_where,
    live_server,
    next_frame,
    of_type,
    send,
    signed_in_socket,
    socket_to,
    subscribed,
    token_of,
    with_realtime,
)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(with_realtime(settings)) as live:
        yield live


def is_event(frame: dict[str, Any]) -> bool:
    return "cursor" in frame and "data" in frame


async def test_an_inbox_topic_of_some_kinds_of_channel(
    server: LiveServer, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(server.local)
    container, tenant_id = server.local.container, acme.tenant.id or ""
    whatsapp = await stored_channel(container, tenant_id, graph.base_url)
    telegram = await channel_of_type(container, tenant_id, graph.base_url,
                                     ChannelType.TELEGRAM, "900010")  # fmt: skip
    known = await receive(container, written("US.7", "16505550007", "Known"), whatsapp)

    async with socket_to(server, token_of(owner)) as ws:
        await signed_in_socket(ws)
        await send(ws, type="subscribe", topic="inbox", channel_types=["fax"])
        assert (await next_frame(ws))["code"] == "invalid_frame"
        await subscribed(ws, channel_types=["telegram"])
        await receive(container, written("US.1", "16505550001", "On WhatsApp"), whatsapp)
        on_telegram = await receive(container, written("TG.1", None, "On Telegram"), telegram)
        events = [(await frame_where(ws, is_event))[0] for _ in range(2)]
        await subscribed(ws, "conversation", id=known.conversation_id)
        await receive(container, written("US.7", "16505550007", "Known", "Again"), whatsapp)
        followed = [(await frame_where(ws, is_event))[0] for _ in range(2)]
        await receive(container, written("US.1", "16505550001", "On WhatsApp", "2"), whatsapp)
        await send(ws, type="ping")
        _, after = await of_type(ws, "pong")

    assert [e["type"] for e in events] == ["conversation.created", "message.created"]
    assert events[0]["data"]["channel_type"] == "telegram"
    assert events[1]["data"]["conversation_id"] == on_telegram.conversation_id
    assert {e["data"].get("conversation_id", e["data"]["id"]) for e in followed} == {
        known.conversation_id
    }
    assert not [frame for frame in after if is_event(frame)]
