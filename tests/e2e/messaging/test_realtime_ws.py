"""The agents' socket (`GET /api/v1/ws`) over real TCP against uvicorn: sign-in by URL or
first frame, refusals (4401, 4403), topics, tenant isolation, resume and expired cursors,
ping/pong and heartbeats, bad frames, a slow consumer dropped while a fast one goes on,
and a second API process on the same Redis receiving what the first published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.config import Settings
from api.domain.messaging.messages import (
    Direction,
    Message,
    MessageSender,
    MessageStatus,
    SenderType,
)
from api.domain.messaging.realtime import InboxEvent, InboxEvents, InboxEventType
from tests.support.fake_graph import FakeGraph
from tests.support.inbox import channel_of, from_customer, receive
from tests.support.onboarding import OWNER_PASSWORD, admin_headers, login
from tests.support.people import signed_in, two_tenants
from tests.support.sockets import (
    LiveServer,
    close_code,
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

CONVERSATIONS = "/api/v1/conversations"
MESSAGES = "/api/v1/messages"
EVENT_BYTES = 60_000


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with live_server(with_realtime(settings, auth_timeout_seconds=0.5)) as live:
        yield live


def is_event(frame: dict[str, Any]) -> bool:
    return "cursor" in frame and "data" in frame


async def test_events_reach_a_socket_in_the_http_shapes(
    server: LiveServer, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(server.local)
    channel = await channel_of(server.local.container, acme, graph, "111000111000")
    async with socket_to(server, token_of(owner)) as ws:
        ready = await signed_in_socket(ws)
        assert ready["tenant_id"] == acme.tenant.id
        await send(ws, type="ping")
        assert await next_frame(ws) == {"type": "pong"}
        await subscribed(ws)

        await receive(server.local.container, from_customer(1, 0), channel)

        opened, _ = await frame_where(ws, is_event)
        created, _ = await frame_where(ws, is_event)
    assert opened["type"] == "conversation.created"
    assert created["type"] == "message.created"
    assert opened["cursor"] != created["cursor"]
    message = await server.remote.get(f"{MESSAGES}/{created['data']['id']}", headers=owner)
    assert created["data"] == message.json()
    conversation = await server.remote.get(f"{CONVERSATIONS}/{opened['data']['id']}", headers=owner)
    assert set(opened["data"]) == set(conversation.json())
    assert opened["data"]["contact"] == conversation.json()["contact"]


async def test_a_first_auth_frame_signs_in(server: LiveServer) -> None:
    acme, owner, _, _ = await two_tenants(server.local)
    async with socket_to(server) as ws:
        await send(ws, type="auth", token=token_of(owner))
        ready = await signed_in_socket(ws)
        assert ready["tenant_id"] == acme.tenant.id and ready["user_id"]
        await subscribed(ws)


async def test_refusals_close_with_4401_and_4403(server: LiveServer) -> None:
    acme, owner, beta, _ = await two_tenants(server.local)
    _, member = await signed_in(server.local, acme, owner, "max@acme.example.com")
    _, agent = await signed_in(server.local, acme, owner, "ada@acme.example.com", roles=["agent"])

    async with socket_to(server, "not-a-token") as ws:
        assert await close_code(ws) == 4401
    async with socket_to(server) as ws:  # no auth frame within the (short) timeout
        assert await close_code(ws) == 4401
    async with socket_to(server) as ws:
        await send(ws, type="subscribe", topic="inbox")  # before signing in
        assert await close_code(ws) == 4401
    async with socket_to(server, token_of(member)) as ws:  # no inbox:read
        assert await close_code(ws) == 4403
    other_tenant = {"X-Tenant-ID": beta.tenant.id or ""}
    async with socket_to(server, token_of(owner), headers=other_tenant) as ws:
        assert await close_code(ws) == 4403
    same_tenant = {"X-Tenant-ID": acme.tenant.id or ""}
    async with socket_to(server, token_of(agent), headers=same_tenant) as ws:
        await signed_in_socket(ws)

    signed_out = await server.remote.post("/api/v1/auth/logout", headers=agent)
    assert signed_out.status_code == 204
    async with socket_to(server, token_of(agent)) as ws:  # revoked
        assert await close_code(ws) == 4401


async def test_a_suspended_tenant_or_a_disabled_user_is_refused(server: LiveServer) -> None:
    acme, owner, beta, beta_owner = await two_tenants(server.local)
    user, agent = await signed_in(
        server.local, acme, owner, "ada@acme.example.com", roles=["agent"]
    )
    async with socket_to(server, token_of(agent)) as ws:
        await signed_in_socket(ws)
        await subscribed(ws)
        deactivated = await server.remote.post(
            f"/api/v1/users/{user['id']}/deactivate", headers=owner
        )
        assert deactivated.status_code == 200, deactivated.text
        await send(ws, type="subscribe", topic="inbox")  # checked again: refused now
        assert await close_code(ws) == 4401
    async with socket_to(server, token_of(agent)) as ws:
        assert await close_code(ws) == 4401

    async with socket_to(server, token_of(beta_owner)) as ws:
        await signed_in_socket(ws)
    platform = await admin_headers(server.local)
    suspended = await server.remote.delete(f"/api/v1/tenants/{beta.tenant.id}", headers=platform)
    assert suspended.status_code == 204, suspended.text
    async with socket_to(server, token_of(beta_owner)) as ws:
        assert await close_code(ws) == 4403


async def test_a_fresh_token_keeps_the_socket_of_the_same_user(server: LiveServer) -> None:
    acme, owner, _, _ = await two_tenants(server.local)
    _, agent = await signed_in(server.local, acme, owner, "ada@acme.example.com", roles=["agent"])
    fresh = await login(server.local, acme.owner.email, OWNER_PASSWORD, acme.tenant.id)
    async with socket_to(server, token_of(owner)) as ws:
        first = await signed_in_socket(ws)
        await send(ws, type="auth", token=fresh["access_token"])
        again = await signed_in_socket(ws)
        assert again["user_id"] == first["user_id"]
        await subscribed(ws)
        await send(ws, type="auth", token=token_of(agent))  # someone else
        assert await close_code(ws) == 4403


async def test_a_tenant_never_sees_another_tenants_events(
    server: LiveServer, graph: FakeGraph
) -> None:
    acme, acme_owner, beta, beta_owner = await two_tenants(server.local)
    container = server.local.container
    acme_channel = await channel_of(container, acme, graph, "111000111000")
    beta_channel = await channel_of(container, beta, graph, "222000222000")
    await receive(container, from_customer(1, 0), acme_channel)
    acme_conversation = (await server.remote.get(CONVERSATIONS, headers=acme_owner)).json()
    acme_id = acme_conversation["items"][0]["id"]

    async with socket_to(server, token_of(beta_owner)) as ws:
        await signed_in_socket(ws)
        await subscribed(ws)
        await send(ws, type="subscribe", topic="conversation", id=acme_id)
        refused = await next_frame(ws)
        assert refused["type"] == "error" and refused["code"] == "not_found"
        assert refused["id"] == acme_id

        await receive(container, from_customer(1, 1), acme_channel)
        await receive(container, from_customer(2, 2), beta_channel)
        await receive(container, from_customer(1, 3), acme_channel)
        await send(ws, type="ping")
        beta_event, _ = await frame_where(ws, is_event)
        _, rest = await of_type(ws, "pong")
    seen = [beta_event, *[frame for frame in rest if is_event(frame)]]
    assert all(frame["data"].get("channel_id") == beta_channel.id for frame in seen), seen
    assert all(acme_id not in (frame["data"]["id"], frame["data"].get("conversation_id"))
               for frame in seen)  # fmt: skip


async def test_a_conversation_topic_gets_that_conversation_only(
    server: LiveServer, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(server.local)
    container = server.local.container
    channel = await channel_of(container, acme, graph, "111000111000")
    await receive(container, from_customer(1, 0), channel)
    await receive(container, from_customer(2, 1), channel)
    listed = (await server.remote.get(CONVERSATIONS, headers=owner)).json()["items"]
    second, first = listed[0]["id"], listed[1]["id"]

    async with socket_to(server, token_of(owner)) as ws:
        await signed_in_socket(ws)
        await subscribed(ws, "conversation", id=first)
        await send(ws, type="subscribe", topic="conversation")
        assert (await next_frame(ws))["code"] == "invalid_frame"
        await receive(container, from_customer(2, 2), channel)  # the other conversation
        await receive(container, from_customer(1, 3), channel)
        events = [(await frame_where(ws, is_event))[0] for _ in range(2)]
        await send(ws, type="unsubscribe", topic="conversation", id=first)
        assert await next_frame(ws) == {
            "type": "unsubscribed", "topic": "conversation", "id": first,
        }  # fmt: skip
        await receive(container, from_customer(1, 4), channel)
        await send(ws, type="ping")
        _, after = await of_type(ws, "pong")
    assert [frame["type"] for frame in events] == ["conversation.updated", "message.created"]
    assert events[0]["data"]["id"] == first
    assert events[1]["data"]["conversation_id"] == first
    assert second not in {frame["data"]["id"] for frame in events}
    assert not [frame for frame in after if is_event(frame)]


async def test_resume_replays_what_was_missed_then_goes_on_live(
    server: LiveServer, graph: FakeGraph
) -> None:
    acme, owner, _, _ = await two_tenants(server.local)
    container = server.local.container
    channel = await channel_of(container, acme, graph, "111000111000")
    async with socket_to(server, token_of(owner)) as ws:
        await signed_in_socket(ws)
        await subscribed(ws)
        await receive(container, from_customer(1, 0), channel)
        await frame_where(ws, is_event)
        last_seen, _ = await frame_where(ws, is_event)
    await receive(container, from_customer(1, 1), channel)  # missed while away
    await receive(container, from_customer(2, 2), channel)

    async with socket_to(server, token_of(owner)) as ws:
        await signed_in_socket(ws)
        await subscribed(ws)
        await send(ws, type="resume", cursor=last_seen["cursor"])
        resumed, replayed = await of_type(ws, "resumed")
        await receive(container, from_customer(3, 3), channel)
        live, _ = await frame_where(ws, lambda frame: frame["type"] == "message.created")
    assert [frame["type"] for frame in replayed] == [
        "conversation.updated", "message.created", "conversation.created", "message.created",
    ]  # fmt: skip
    cursors = [frame["cursor"] for frame in replayed]
    assert len(set(cursors)) == 4 and last_seen["cursor"] not in cursors
    assert resumed == {"type": "resumed", "cursor": cursors[-1], "replayed": 4}
    assert live["cursor"] not in cursors and live["data"]["id"] != replayed[-1]["data"]["id"]


async def test_an_expired_or_invalid_cursor_is_an_error_frame(server: LiveServer) -> None:
    _, owner, _, _ = await two_tenants(server.local)
    async with socket_to(server, token_of(owner)) as ws:
        await signed_in_socket(ws)
        await subscribed(ws)
        await send(ws, type="resume", cursor="1-0")  # long before what is kept
        expired = await next_frame(ws)
        await send(ws, type="resume", cursor="not-a-cursor")
        invalid = await next_frame(ws)
        await send(ws, type="ping")
        assert await next_frame(ws) == {"type": "pong"}  # still open
    assert expired["type"] == "error" and expired["code"] == "cursor_expired"
    assert expired["cursor"] == "1-0" and "HTTP" in expired["message"]
    assert invalid["code"] == "invalid_cursor"


async def test_invalid_and_oversize_frames(settings: Settings) -> None:
    limits = with_realtime(settings, max_invalid_frames=2, max_frame_bytes=1024)
    async with live_server(limits) as server:
        _, owner, _, _ = await two_tenants(server.local)
        async with socket_to(server, token_of(owner)) as ws:
            await signed_in_socket(ws)
            for bad in ("not json", '{"type": "dance"}'):
                await ws.send(bad)
                error = await next_frame(ws)
                assert error["type"] == "error" and error["code"] == "invalid_frame", error
            await send(ws, type="ping")
            assert await next_frame(ws) == {"type": "pong"}
            await ws.send(b"\x00binary")
            assert await close_code(ws) == 1008
        async with socket_to(server, token_of(owner)) as ws:
            await signed_in_socket(ws)
            await send(ws, type="ping", padding="x" * 2000)
            assert await close_code(ws) == 1009


async def test_heartbeats_and_silent_clients_closed(settings: Settings) -> None:
    limits = with_realtime(settings, heartbeat_seconds=0.1, idle_timeout_seconds=0.8)
    async with live_server(limits) as server:
        _, owner, _, _ = await two_tenants(server.local)
        async with (
            socket_to(server, token_of(owner)) as silent,
            socket_to(server, token_of(owner)) as talking,
        ):
            await signed_in_socket(silent)
            await signed_in_socket(talking)
            await of_type(silent, "heartbeat")
            loop = asyncio.get_running_loop()
            quiet_until = loop.time() + 1.6  # twice the idle timeout
            while loop.time() < quiet_until:  # answering each heartbeat keeps it open
                await of_type(talking, "heartbeat")
                await send(talking, type="pong")
            assert await close_code(silent) == 4408
            await send(talking, type="ping")
            await of_type(talking, "pong")


def big_message(tenant_id: str, n: int) -> Message:
    return Message(
        id=f"m{n}", tenant_id=tenant_id, conversation_id="c1", channel_id="ch1",
        direction=Direction.OUTBOUND, type="text", text=f"{n}:" + "x" * EVENT_BYTES,
        sender=MessageSender(type=SenderType.AGENT, id="u1"), status=MessageStatus.QUEUED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def most_a_connection_buffers() -> int:
    """What the kernel may buffer for one loopback connection: the server's largest send
    buffer (Linux: tcp_wmem's maximum) and the slow client's small receive buffer."""
    try:
        largest_send = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        largest_send = 4 * 1024 * 1024
    return largest_send + 64 * 1024


async def test_a_slow_consumer_is_dropped_and_a_fast_one_goes_on(settings: Settings) -> None:
    queue_size = 4
    async with live_server(with_realtime(settings, queue_size=queue_size)) as server:
        acme, owner, _, _ = await two_tenants(server.local)
        tenant_id = acme.tenant.id or ""
        events: InboxEvents = server.local.container.resolve(InboxEvents)
        # Enough to fill every buffer between the server and the slow reader, then its queue.
        count = most_a_connection_buffers() // EVENT_BYTES + queue_size + 40
        async with (
            socket_to(server, token_of(owner), receive_buffer=4096) as slow,
            socket_to(server, token_of(owner)) as fast,
        ):
            for ws in (slow, fast):
                await signed_in_socket(ws)
                await subscribed(ws)
            for n in range(count):  # at the fast reader's pace: it never falls behind
                event = InboxEvent.of_message(
                    InboxEventType.MESSAGE_CREATED, big_message(tenant_id, n)
                )
                assert await events.publish(event) is not None
                frame, _ = await frame_where(fast, is_event)
                assert frame["data"]["text"].startswith(f"{n}:")
            assert await close_code(slow, deadline=30) == 1013
            await send(fast, type="ping")
            await of_type(fast, "pong")


async def test_a_second_api_process_receives_what_the_first_published(
    settings: Settings, graph: FakeGraph
) -> None:
    async with live_server(with_realtime(settings)) as first:
        acme, owner, _, _ = await two_tenants(first.local)
        channel = await channel_of(first.local.container, acme, graph, "111000111000")
        async with live_server(with_realtime(settings)) as second:
            assert second.ws_url != first.ws_url
            async with socket_to(second, token_of(owner)) as ws:
                await signed_in_socket(ws)
                await subscribed(ws)
                await receive(first.local.container, from_customer(1, 0), channel)
                created, _ = await frame_where(ws, lambda f: f["type"] == "message.created")
            message = await second.remote.get(f"{MESSAGES}/{created['data']['id']}", headers=owner)
            assert message.status_code == 200 and created["data"] == message.json()
